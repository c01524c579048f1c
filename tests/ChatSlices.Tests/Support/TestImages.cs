using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace ChatSlices.Tests.Support;

/// <summary>
/// Builds image fixtures at test time, without packages.
/// <list type="bullet">
/// <item><see cref="Png"/>, <see cref="Gif"/>, <see cref="Jpeg"/>, <see cref="WebpLossless"/> and
/// <see cref="WebpExtended"/>: complete, decodable images of the given size (a simple pattern, grey or black).</item>
/// <item><see cref="TextNamedPng"/>, <see cref="Svg"/>, <see cref="HtmlPolyglot"/> and <see cref="TruncatedPng"/>:
/// uploads that must not pass as images.</item>
/// </list>
/// </summary>
public static class TestImages
{
    /// <summary>An 8-bit RGB PNG (signature, IHDR, one zlib IDAT of unfiltered scanlines, IEND) with a gradient.</summary>
    public static byte[] Png(int width, int height)
    {
        CheckSize(width, height, max: int.MaxValue);
        var output = new MemoryStream();
        output.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);

        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bit depth; then colour type 2 (RGB), compression 0, filter 0, no interlace
        header[9] = 2;
        WritePngChunk(output, "IHDR", header);

        var pixels = new MemoryStream();
        using (var zlib = new ZLibStream(pixels, CompressionLevel.Optimal, leaveOpen: true))
        {
            var row = new byte[1 + width * 3]; // filter type 0, then R G B per pixel
            for (var y = 0; y < height; y++)
            {
                for (var x = 0; x < width; x++)
                {
                    row[1 + x * 3] = (byte)(x * 255 / width);
                    row[2 + x * 3] = (byte)(y * 255 / height);
                    row[3 + x * 3] = 128;
                }
                zlib.Write(row);
            }
        }
        WritePngChunk(output, "IDAT", pixels.ToArray());
        WritePngChunk(output, "IEND", []);
        return output.ToArray();
    }

    /// <summary>A GIF89a with a two-colour global palette and one full-size LZW-coded frame (a checkerboard).</summary>
    public static byte[] Gif(int width, int height)
    {
        CheckSize(width, height, max: ushort.MaxValue);
        var output = new MemoryStream();
        output.Write("GIF89a"u8);
        WriteUInt16LittleEndian(output, width);
        WriteUInt16LittleEndian(output, height);
        output.Write([0x80, 0, 0]); // global colour table of 2 entries, background 0, no aspect ratio
        output.Write([0, 0, 0, 255, 255, 255]);

        output.WriteByte(0x2C); // image descriptor: at 0,0, full size, no local colour table
        WriteUInt16LittleEndian(output, 0);
        WriteUInt16LittleEndian(output, 0);
        WriteUInt16LittleEndian(output, width);
        WriteUInt16LittleEndian(output, height);
        output.WriteByte(0);

        const int minCodeSize = 2;
        output.WriteByte(minCodeSize);
        var data = GifLzw(minCodeSize, width * height, i => (byte)((i % width / 8 + i / width / 8) & 1));
        for (var offset = 0; offset < data.Length; offset += 255)
        {
            var block = data.AsSpan(offset, Math.Min(255, data.Length - offset));
            output.WriteByte((byte)block.Length);
            output.Write(block);
        }
        output.WriteByte(0); // end of the frame's data
        output.WriteByte(0x3B); // trailer
        return output.ToArray();
    }

    /// <summary>
    /// A baseline greyscale JPEG (SOI, APP0 JFIF, DQT, SOF0, DHT, SOS, entropy data, EOI). Each Huffman table has a
    /// single one-bit code (DC difference 0, AC end of block), so every 8×8 block is two zero bits: a flat grey image.
    /// </summary>
    public static byte[] Jpeg(int width, int height)
    {
        CheckSize(width, height, max: ushort.MaxValue);
        var output = new MemoryStream();
        output.Write([0xFF, 0xD8]);
        output.Write([0xFF, 0xE0, 0, 16, .."JFIF\0"u8, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
        output.Write([0xFF, 0xDB, 0, 67, 0, .. Enumerable.Repeat((byte)1, 64)]);
        output.Write([0xFF, 0xC0, 0, 11, 8, (byte)(height >> 8), (byte)height, (byte)(width >> 8), (byte)width, 1, 1, 0x11, 0]);
        byte[] oneCodeOfLengthOne = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        output.Write([0xFF, 0xC4, 0, 2 + 2 * 18, 0x00, .. oneCodeOfLengthOne, 0x10, .. oneCodeOfLengthOne]);
        output.Write([0xFF, 0xDA, 0, 8, 1, 1, 0x00, 0, 63, 0]);

        var blocks = (long)((width + 7) / 8) * ((height + 7) / 8);
        var bits = blocks * 2;
        var entropy = new byte[(bits + 7) / 8];
        if (bits % 8 != 0)
            entropy[^1] = (byte)(0xFF >> (int)(bits % 8)); // pad the last byte with one bits
        output.Write(entropy);
        output.Write([0xFF, 0xD9]);
        return output.ToArray();
    }

    /// <summary>A lossless WebP (RIFF, WEBP, VP8L) of opaque black pixels, at most 16384×16384.</summary>
    public static byte[] WebpLossless(int width, int height)
    {
        CheckSize(width, height, max: 16384);
        return Riff(("VP8L", Vp8L(width, height)));
    }

    /// <summary>An extended WebP: a VP8X chunk (no feature flags) with the canvas size, then the VP8L image.</summary>
    public static byte[] WebpExtended(int width, int height)
    {
        CheckSize(width, height, max: 16384);
        var vp8x = new byte[10];
        WriteUInt24LittleEndian(vp8x.AsSpan(4), width - 1);
        WriteUInt24LittleEndian(vp8x.AsSpan(7), height - 1);
        return Riff(("VP8X", vp8x), ("VP8L", Vp8L(width, height)));
    }

    /// <summary>Plain text, as if uploaded as <c>hello.png</c>.</summary>
    public static byte[] TextNamedPng() => "hello"u8.ToArray();

    /// <summary>An SVG image with a script element.</summary>
    public static byte[] Svg() => Encoding.UTF8.GetBytes(
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><script>alert(1)</script><rect width="40" height="30"/></svg>
        """);

    /// <summary>
    /// An HTML document with a GIF header inside it: magic bytes count only at the start, so this is no GIF. (Bytes
    /// that start with <c>GIF89a</c> are a GIF whatever follows, and are served as <c>image/gif</c> with nosniff.)
    /// </summary>
    public static byte[] HtmlPolyglot() => Encoding.ASCII.GetBytes(
        "<!DOCTYPE html>\n<html><body>GIF89a/*<script>alert(1)</script>*/</body></html>\n");

    /// <summary>The first 12 bytes of a PNG: the signature and the IHDR length, but no chunk type or size.</summary>
    public static byte[] TruncatedPng() => Png(40, 30)[..12];

    private static void CheckSize(int width, int height, int max)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(width, max);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(height, max);
    }

    private static void WritePngChunk(Stream output, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        byte[] typeAndData = [.. Encoding.ASCII.GetBytes(type), .. data];
        output.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32(typeAndData));
        output.Write(word);
    }

    private static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        var c = (uint)n;
        for (var k = 0; k < 8; k++)
            c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    /// <summary>The CRC-32 of PNG chunks (and zip): reflected polynomial 0xEDB88320, initial and final XOR all ones.</summary>
    private static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
            crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc ^ 0xFFFFFFFFu;
    }

    /// <summary>
    /// GIF's variable-width LZW, codes packed least significant bit first. The code width grows when the next free
    /// code no longer fits; when the table is full (4096 codes) a clear code starts it over.
    /// </summary>
    private static byte[] GifLzw(int minCodeSize, int count, Func<int, byte> pixel)
    {
        int clear = 1 << minCodeSize, end = clear + 1;
        var codes = new Dictionary<int, int>();
        var codeSize = minCodeSize + 1;
        var next = end + 1;
        var output = new MemoryStream();
        var buffer = 0L;
        var bufferBits = 0;

        void Emit(int code)
        {
            buffer |= (long)code << bufferBits;
            for (bufferBits += codeSize; bufferBits >= 8; bufferBits -= 8, buffer >>= 8)
                output.WriteByte((byte)buffer);
        }

        Emit(clear);
        var prefix = (int)pixel(0);
        for (var i = 1; i < count; i++)
        {
            var k = pixel(i);
            var key = prefix << 8 | k;
            if (codes.TryGetValue(key, out var code))
            {
                prefix = code;
                continue;
            }
            Emit(prefix);
            if (next == 4096)
            {
                Emit(clear);
                codes.Clear();
                codeSize = minCodeSize + 1;
                next = end + 1;
            }
            else
            {
                codes[key] = next++;
                if (next > 1 << codeSize && codeSize < 12)
                    codeSize++;
            }
            prefix = k;
        }
        Emit(prefix);
        // The decoder adds an entry on reading that last code, and may widen its codes before reading the end code.
        if (next == 1 << codeSize && codeSize < 12)
            codeSize++;
        Emit(end);
        if (bufferBits > 0)
            output.WriteByte((byte)buffer);
        return output.ToArray();
    }

    /// <summary>
    /// A VP8L bitstream: the signature and packed size, no transforms, no colour cache, no meta prefix codes, and five
    /// "simple" prefix codes of one symbol each (green 0, red 0, blue 0, alpha 255, distance 0). A one-symbol code
    /// takes no bits, so every pixel is opaque black without any pixel data.
    /// </summary>
    private static byte[] Vp8L(int width, int height)
    {
        var bits = new BitWriter();
        bits.Write(0x2F, 8);
        bits.Write(width - 1, 14);
        bits.Write(height - 1, 14);
        bits.Write(0, 1); // alpha is used
        bits.Write(0, 3); // version
        bits.Write(0, 1); // transform present
        bits.Write(0, 1); // colour cache
        bits.Write(0, 1); // meta prefix codes
        foreach (var symbol in new[] { 0, 0, 0, 255, 0 })
        {
            bits.Write(1, 1); // simple code
            bits.Write(0, 1); // one symbol
            var eightBits = symbol > 1;
            bits.Write(eightBits ? 1 : 0, 1);
            bits.Write(symbol, eightBits ? 8 : 1);
        }
        return bits.ToArray();
    }

    private static byte[] Riff(params (string Type, byte[] Data)[] chunks)
    {
        var body = new MemoryStream();
        body.Write("WEBP"u8);
        foreach (var (type, data) in chunks)
        {
            body.Write(Encoding.ASCII.GetBytes(type));
            WriteUInt32LittleEndian(body, data.Length);
            body.Write(data);
            if (data.Length % 2 != 0)
                body.WriteByte(0); // chunks are padded to an even size
        }
        var output = new MemoryStream();
        output.Write("RIFF"u8);
        WriteUInt32LittleEndian(output, (int)body.Length);
        body.WriteTo(output);
        return output.ToArray();
    }

    private static void WriteUInt16LittleEndian(Stream output, int value) => output.Write([(byte)value, (byte)(value >> 8)]);

    private static void WriteUInt32LittleEndian(Stream output, int value)
        => output.Write([(byte)value, (byte)(value >> 8), (byte)(value >> 16), (byte)(value >> 24)]);

    private static void WriteUInt24LittleEndian(Span<byte> target, int value)
    {
        target[0] = (byte)value;
        target[1] = (byte)(value >> 8);
        target[2] = (byte)(value >> 16);
    }

    /// <summary>Bits packed least significant first, as VP8L reads them.</summary>
    private sealed class BitWriter
    {
        private readonly List<byte> bytes = [];
        private int used = 8;

        public void Write(int value, int count)
        {
            for (var i = 0; i < count; i++)
            {
                if (used == 8)
                {
                    bytes.Add(0);
                    used = 0;
                }
                bytes[^1] |= (byte)(((value >> i) & 1) << used++);
            }
        }

        public byte[] ToArray() => [.. bytes];
    }
}
