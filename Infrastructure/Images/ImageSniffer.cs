using System.Buffers.Binary;

namespace ChatSlices.Infrastructure.Images;

public sealed record ImageInfo(string ContentType, int Width, int Height);

/// <summary>
/// Recognises PNG, JPEG, GIF and WebP by their magic bytes alone (never by file name or declared type) and reads
/// the pixel size from the header. Anything else, a truncated header or a zero dimension is <c>null</c>.
/// Every read is bounds-checked, so no input throws.
/// </summary>
public static class ImageSniffer
{
    private static ReadOnlySpan<byte> PngSignature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    public static ImageInfo? Detect(ReadOnlySpan<byte> bytes)
    {
        var info = Png(bytes) ?? Jpeg(bytes) ?? Gif(bytes) ?? WebP(bytes);
        return info is { Width: > 0, Height: > 0 } ? info : null;
    }

    private static ImageInfo? Png(ReadOnlySpan<byte> b)
    {
        // Signature, then the first chunk must be IHDR: length (4), type (4), width (4), height (4).
        if (b.Length < 24 || !b.StartsWith(PngSignature) || !b[12..16].SequenceEqual("IHDR"u8))
            return null;
        var width = BinaryPrimitives.ReadUInt32BigEndian(b[16..]);
        var height = BinaryPrimitives.ReadUInt32BigEndian(b[20..]);
        return width <= int.MaxValue && height <= int.MaxValue ? new("image/png", (int)width, (int)height) : null;
    }

    private static ImageInfo? Jpeg(ReadOnlySpan<byte> b)
    {
        if (b.Length < 3 || b[0] != 0xFF || b[1] != 0xD8 || b[2] != 0xFF)
            return null;

        // Each pass consumes at least the marker byte, so the walk ends within b.Length passes.
        var pos = 2;
        while (pos < b.Length)
        {
            if (b[pos] != 0xFF)
                return null;
            while (pos < b.Length && b[pos] == 0xFF)
                pos++; // fill bytes
            if (pos >= b.Length)
                return null;

            var marker = b[pos++];
            if (marker is 0x01 or (>= 0xD0 and <= 0xD7))
                continue; // standalone: TEM, RSTn
            if (marker is 0xDA or 0xD9 or 0xD8 or 0x00)
                return null; // scan data or end of image before any frame header, or not a header marker

            if (pos + 2 > b.Length)
                return null;
            var length = BinaryPrimitives.ReadUInt16BigEndian(b[pos..]);
            if (length < 2)
                return null;

            // SOF0–SOF15, except DHT (C4), JPG (C8) and DAC (CC): length (2), precision (1), height (2), width (2).
            if (marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC)
            {
                if (length < 7 || pos + 7 > b.Length)
                    return null;
                var height = BinaryPrimitives.ReadUInt16BigEndian(b[(pos + 3)..]);
                var width = BinaryPrimitives.ReadUInt16BigEndian(b[(pos + 5)..]);
                return new("image/jpeg", width, height);
            }
            pos += length;
        }
        return null;
    }

    private static ImageInfo? Gif(ReadOnlySpan<byte> b)
    {
        if (b.Length < 10 || !(b.StartsWith("GIF87a"u8) || b.StartsWith("GIF89a"u8)))
            return null;
        return new("image/gif", BinaryPrimitives.ReadUInt16LittleEndian(b[6..]), BinaryPrimitives.ReadUInt16LittleEndian(b[8..]));
    }

    private static ImageInfo? WebP(ReadOnlySpan<byte> b)
    {
        // RIFF, file size (4), WEBP, then the first chunk's type (4) and size (4); its payload starts at 20.
        if (b.Length < 16 || !b.StartsWith("RIFF"u8) || !b[8..12].SequenceEqual("WEBP"u8))
            return null;
        var chunk = b[12..16];

        if (chunk.SequenceEqual("VP8 "u8))
        {
            // Lossy: a 3-byte frame tag, the start code 9D 01 2A, then 14-bit width and height (2 scale bits above).
            if (b.Length < 30 || b[23] != 0x9D || b[24] != 0x01 || b[25] != 0x2A)
                return null;
            return new("image/webp",
                BinaryPrimitives.ReadUInt16LittleEndian(b[26..]) & 0x3FFF,
                BinaryPrimitives.ReadUInt16LittleEndian(b[28..]) & 0x3FFF);
        }

        if (chunk.SequenceEqual("VP8L"u8))
        {
            // Lossless: signature 0x2F, then width-1 and height-1 as 14-bit fields packed little-endian.
            if (b.Length < 25 || b[20] != 0x2F)
                return null;
            var packed = BinaryPrimitives.ReadUInt32LittleEndian(b[21..]);
            return new("image/webp", (int)(packed & 0x3FFF) + 1, (int)((packed >> 14) & 0x3FFF) + 1);
        }

        if (chunk.SequenceEqual("VP8X"u8))
        {
            // Extended: flags (4), then canvas width-1 and height-1 as 24-bit little-endian.
            if (b.Length < 30)
                return null;
            return new("image/webp", ReadUInt24LittleEndian(b[24..]) + 1, ReadUInt24LittleEndian(b[27..]) + 1);
        }

        return null;
    }

    private static int ReadUInt24LittleEndian(ReadOnlySpan<byte> b) => b[0] | b[1] << 8 | b[2] << 16;
}
