using System.Text;
using ChatSlices.Infrastructure.Images;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Infrastructure;

public class ImageSnifferTests
{
    [Theory]
    [InlineData(40, 30)]
    [InlineData(1, 1)]
    [InlineData(641, 479)]
    public void Png_gives_its_size(int width, int height)
        => ImageSniffer.Detect(TestImages.Png(width, height)).Should().Be(new ImageInfo("image/png", width, height));

    [Theory]
    [InlineData(40, 30)]
    [InlineData(1, 1)]
    [InlineData(5000, 4000)]
    public void Jpeg_gives_its_size(int width, int height)
        => ImageSniffer.Detect(TestImages.Jpeg(width, height)).Should().Be(new ImageInfo("image/jpeg", width, height));

    [Theory]
    [InlineData(40, 30)]
    [InlineData(1, 1)]
    [InlineData(5000, 4000)]
    public void Gif_gives_its_size(int width, int height)
        => ImageSniffer.Detect(TestImages.Gif(width, height)).Should().Be(new ImageInfo("image/gif", width, height));

    [Fact]
    public void Gif87a_is_a_gif_too()
    {
        var gif = TestImages.Gif(40, 30);
        "GIF87a"u8.CopyTo(gif);

        ImageSniffer.Detect(gif).Should().Be(new ImageInfo("image/gif", 40, 30));
    }

    [Theory]
    [InlineData(40, 30)]
    [InlineData(1, 1)]
    [InlineData(5000, 4000)]
    [InlineData(16384, 16384)]
    public void Lossless_webp_gives_its_size(int width, int height)
        => ImageSniffer.Detect(TestImages.WebpLossless(width, height)).Should().Be(new ImageInfo("image/webp", width, height));

    [Theory]
    [InlineData(40, 30)]
    [InlineData(1, 1)]
    [InlineData(5000, 4000)]
    public void Extended_webp_gives_its_size(int width, int height)
        => ImageSniffer.Detect(TestImages.WebpExtended(width, height)).Should().Be(new ImageInfo("image/webp", width, height));

    [Theory]
    [InlineData(40, 30)]
    [InlineData(5000, 4000)]
    [InlineData(16383, 16383)]
    public void Lossy_webp_gives_its_size(int width, int height)
        => ImageSniffer.Detect(LossyWebpHeader(width, height)).Should().Be(new ImageInfo("image/webp", width, height));

    [Fact]
    public void Lossy_webp_size_ignores_the_scale_bits()
    {
        var webp = LossyWebpHeader(40, 30);
        webp[27] |= 0xC0;
        webp[29] |= 0x40;

        ImageSniffer.Detect(webp).Should().Be(new ImageInfo("image/webp", 40, 30));
    }

    [Fact]
    public void Jpeg_walk_skips_fill_bytes_standalone_markers_and_tables_that_look_like_frames()
    {
        // SOI, fill bytes, RST0, TEM, DHT (C4), JPG (C8), DAC (CC), then SOF2 (progressive).
        byte[] jpeg =
        [
            0xFF, 0xD8, 0xFF, 0xFF, 0xFF, 0xD0, 0xFF, 0x01,
            0xFF, 0xC4, 0x00, 0x07, 0x00, 0x01, 0x00, 0x02, 0x00,
            0xFF, 0xC8, 0x00, 0x07, 0x00, 0x01, 0x00, 0x02, 0x00,
            0xFF, 0xCC, 0x00, 0x07, 0x00, 0x01, 0x00, 0x02, 0x00,
            0xFF, 0xFF, 0xC2, 0x00, 0x0B, 0x08, 0x0F, 0xA0, 0x13, 0x88, 0x01, 0x01, 0x11, 0x00,
        ];

        ImageSniffer.Detect(jpeg).Should().Be(new ImageInfo("image/jpeg", 5000, 4000));
    }

    [Fact]
    public void Jpeg_without_a_frame_header_before_the_scan_is_not_an_image()
    {
        var jpeg = TestImages.Jpeg(40, 30);
        var sof = jpeg.AsSpan().IndexOf([(byte)0xFF, (byte)0xC0]);
        jpeg[sof + 1] = 0xE1; // SOF0 becomes an APP1 segment of the same length

        ImageSniffer.Detect(jpeg).Should().BeNull();
    }

    [Fact]
    public void Png_needs_the_ihdr_chunk_first()
    {
        var png = TestImages.Png(40, 30);
        "IDAT"u8.CopyTo(png.AsSpan(12));

        ImageSniffer.Detect(png).Should().BeNull();
    }

    [Fact]
    public void Png_wider_than_an_int_is_not_an_image()
    {
        var png = TestImages.Png(40, 30);
        png[16] = 0x80;

        ImageSniffer.Detect(png).Should().BeNull();
    }

    public static TheoryData<string, byte[]> ZeroSized => new()
    {
        { "png", TestImages.Png(40, 30).With(16, 0, 0, 0, 0) },
        { "jpeg", TestImages.Jpeg(40, 30).With(0x5E, 0, 0) },
        { "gif", TestImages.Gif(40, 30).With(8, 0, 0) },
        { "webp", LossyWebpHeader(40, 30).With(26, 0, 0) },
    };

    [Theory]
    [MemberData(nameof(ZeroSized))]
    public void Zero_dimensions_are_not_an_image(string format, byte[] bytes)
        => ImageSniffer.Detect(bytes).Should().BeNull(format);

    public static TheoryData<string, byte[]> Hostile => new()
    {
        { "text named .png", TestImages.TextNamedPng() },
        { "svg with a script", TestImages.Svg() },
        { "html with a gif header inside", TestImages.HtmlPolyglot() },
        { "truncated png", TestImages.TruncatedPng() },
        { "empty", [] },
        { "pdf", "%PDF-1.4\n"u8.ToArray() },
        { "riff that is no webp", "RIFF\0\0\0\0WAVEfmt \0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"u8.ToArray() },
    };

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Hostile_inputs_are_not_images(string name, byte[] bytes)
        => ImageSniffer.Detect(bytes).Should().BeNull(name);

    [Fact]
    public void Html_behind_a_real_gif_header_is_a_gif_by_its_magic_bytes()
    {
        // Served as image/gif with nosniff and a CSP, so the script never runs.
        var bytes = Encoding.ASCII.GetBytes("GIF89a/*<html><script>alert(1)</script>*/");

        ImageSniffer.Detect(bytes).Should().Be(new ImageInfo("image/gif", 0x2A2F, 0x683C));
    }

    public static TheoryData<string, byte[], int> Headers => new()
    {
        { "png", TestImages.Png(40, 30), 24 },
        { "jpeg", TestImages.Jpeg(40, 30), 0x62 },
        { "gif", TestImages.Gif(40, 30), 10 },
        { "webp lossy", LossyWebpHeader(40, 30), 30 },
        { "webp lossless", TestImages.WebpLossless(40, 30), 25 },
        { "webp extended", TestImages.WebpExtended(40, 30), 30 },
    };

    [Theory]
    [MemberData(nameof(Headers))]
    public void Every_prefix_shorter_than_the_header_is_null_and_longer_ones_agree(string format, byte[] bytes, int headerLength)
    {
        var full = ImageSniffer.Detect(bytes);
        full.Should().NotBeNull(format);

        for (var length = 0; length <= bytes.Length; length++)
            ImageSniffer.Detect(bytes.AsSpan(0, length)).Should().Be(length < headerLength ? null : full, $"{format}, {length} bytes");
    }

    [Fact]
    public void Random_bytes_never_throw()
    {
        var random = new Random(20240611);
        byte[][] magics =
        [
            [], [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], [0xFF, 0xD8, 0xFF], "GIF89a"u8.ToArray(),
            "RIFF\0\0\0\0WEBPVP8 "u8.ToArray(), "RIFF\0\0\0\0WEBPVP8L"u8.ToArray(), "RIFF\0\0\0\0WEBPVP8X"u8.ToArray(),
        ];

        for (var i = 0; i < 700; i++)
        {
            var magic = magics[i % magics.Length];
            var bytes = new byte[random.Next(0, 65)];
            random.NextBytes(bytes);
            magic.AsSpan(0, Math.Min(magic.Length, bytes.Length)).CopyTo(bytes);

            var detect = () => ImageSniffer.Detect(bytes);

            var info = detect.Should().NotThrow($"input {Convert.ToHexString(bytes)}").Subject;
            if (info is not null)
                (info.Width > 0 && info.Height > 0).Should().BeTrue($"input {Convert.ToHexString(bytes)} gave {info}");
        }
    }

    /// <summary>A lossy WebP up to the VP8 frame size: the sniffer reads no further (this does not decode).</summary>
    private static byte[] LossyWebpHeader(int width, int height)
    {
        byte[] vp8 = [0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, (byte)width, (byte)(width >> 8), (byte)height, (byte)(height >> 8)];
        return [.. "RIFF"u8, .. BitConverter.GetBytes(4 + 8 + vp8.Length), .. "WEBPVP8 "u8, .. BitConverter.GetBytes(vp8.Length), .. vp8];
    }
}

file static class ByteArrayExtensions
{
    /// <summary>A copy with <paramref name="values"/> written at <paramref name="offset"/>.</summary>
    public static byte[] With(this byte[] bytes, int offset, params byte[] values)
    {
        var copy = bytes.ToArray();
        values.CopyTo(copy, offset);
        return copy;
    }
}
