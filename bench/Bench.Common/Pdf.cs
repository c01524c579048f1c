using System.Globalization;
using System.Text;

namespace ChatSlices.Bench.Common;

/// <summary>
/// A born-digital PDF 1.4 (Helvetica, one content stream per page, one line per string) with an exact xref table,
/// optionally padded with an unreferenced stream object: the layout of tests/ChatSlices.Tests/Support/TestPdf.cs, whose public
/// API has no many-page padded PDF, so it is not linked here; this is the one PDF writer of bench/.
/// </summary>
public static class Pdf
{
    private const int PageWidth = 612, PageHeight = 792, MarginLeft = 56, FirstBaseline = PageHeight - 64, FontSize = 12, Leading = 14;

    /// <summary><paramref name="pageCount"/> pages of <paramref name="linesPerPage"/> lines (about 75 characters each).</summary>
    public static byte[] TextPages(int pageCount, int linesPerPage, string tag, int padToBytes = 0)
    {
        var words = new[] { "revenue", "forecast", "pipeline", "customer", "latency", "vector", "index", "retrieval",
            "quarterly", "report", "analysis", "budget", "service", "database", "question", "answer", "policy", "contract" };
        var rng = new Random(pageCount * 7919 + linesPerPage);
        var pages = new List<string[]>(pageCount);
        for (var p = 0; p < pageCount; p++)
        {
            var lines = new string[linesPerPage];
            for (var l = 0; l < linesPerPage; l++)
            {
                var sb = new StringBuilder(80);
                sb.Append(CultureInfo.InvariantCulture, $"{tag} p{p + 1} l{l + 1}:");
                while (sb.Length < 70) sb.Append(' ').Append(words[rng.Next(words.Length)]);
                lines[l] = sb.ToString();
            }
            pages.Add(lines);
        }
        var pdf = Build(pages, 0);
        return padToBytes > pdf.Length ? Build(pages, padToBytes - pdf.Length - 200) : pdf;
    }

    /// <summary>One page per text, wrapped at word boundaries into lines of at most <paramref name="lineLength"/> characters.</summary>
    public static byte[] FromTexts(IEnumerable<string> pageTexts, int lineLength = 80) =>
        Build(pageTexts.Select(text => Wrap(text, lineLength)).ToList(), 0);

    private static string[] Wrap(string text, int lineLength)
    {
        var lines = new List<string>();
        var line = new StringBuilder();
        foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > lineLength) { lines.Add(line.ToString()); line.Clear(); }
            if (line.Length > 0) line.Append(' ');
            line.Append(word);
        }
        if (line.Length > 0) lines.Add(line.ToString());
        return [.. lines];
    }

    private static byte[] Build(IReadOnlyList<string[]> pages, int paddingBytes)
    {
        const int catalogId = 1, pagesId = 2, fontId = 3;
        static int PageId(int index) => 4 + 2 * index;
        static int ContentId(int index) => 5 + 2 * index;
        var nextId = 4 + 2 * pages.Count;
        var paddingId = paddingBytes > 0 ? nextId++ : 0;
        var objectCount = nextId;

        var w = new PdfWriter(objectCount);
        w.Raw("%PDF-1.4\n");
        w.Raw([(byte)'%', 0xE2, 0xE3, 0xCF, 0xD3, (byte)'\n']);
        w.Object(catalogId, $"<< /Type /Catalog /Pages {pagesId} 0 R >>");
        var kids = string.Join(" ", Enumerable.Range(0, pages.Count).Select(i => $"{PageId(i)} 0 R"));
        w.Object(pagesId, $"<< /Type /Pages /Kids [{kids}] /Count {pages.Count} >>");
        w.Object(fontId, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>");
        for (var i = 0; i < pages.Count; i++)
        {
            w.Object(PageId(i),
                $"<< /Type /Page /Parent {pagesId} 0 R /MediaBox [0 0 {PageWidth} {PageHeight}] " +
                $"/Resources << /Font << /F1 {fontId} 0 R >> >> /Contents {ContentId(i)} 0 R >>");
            w.Stream(ContentId(i), PageContent(pages[i]));
        }
        if (paddingId != 0)
        {
            var data = new byte[paddingBytes];
            var line = Encoding.ASCII.GetBytes("padding padding padding padding padding padding padding padding\n");
            for (var i = 0; i < data.Length; i++) data[i] = line[i % line.Length];
            w.Stream(paddingId, data);
        }

        var xrefOffset = w.Position;
        var xref = new StringBuilder();
        xref.Append("xref\n0 ").Append(objectCount.ToString(CultureInfo.InvariantCulture)).Append('\n');
        xref.Append("0000000000 65535 f\r\n");
        for (var id = 1; id < objectCount; id++)
            xref.Append(w.OffsetOf(id).ToString("D10", CultureInfo.InvariantCulture)).Append(" 00000 n\r\n");
        xref.Append(CultureInfo.InvariantCulture, $"trailer\n<< /Size {objectCount} /Root {catalogId} 0 R >>\nstartxref\n{xrefOffset}\n%%EOF\n");
        w.Raw(xref.ToString());
        return w.ToArray();
    }

    private static byte[] PageContent(IReadOnlyList<string> lines)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"BT\n/F1 {FontSize} Tf\n{Leading} TL\n{MarginLeft} {FirstBaseline} Td\n");
        for (var i = 0; i < lines.Count; i++)
        {
            if (i > 0) sb.Append("T*\n");
            sb.Append('(').Append(lines[i].Replace("\\", "\\\\").Replace("(", "\\(").Replace(")", "\\)")).Append(") Tj\n");
        }
        sb.Append("ET\n");
        return Encoding.Latin1.GetBytes(sb.ToString());
    }

    private sealed class PdfWriter(int objectCount)
    {
        private readonly MemoryStream _buffer = new();
        private readonly long[] _offsets = new long[objectCount];

        public long Position => _buffer.Position;

        public long OffsetOf(int id) => _offsets[id] > 0 ? _offsets[id] : throw new InvalidOperationException($"Object {id} was never written.");

        public void Raw(string text) => Raw(Encoding.Latin1.GetBytes(text));

        public void Raw(byte[] bytes) => _buffer.Write(bytes);

        public void Object(int id, string body)
        {
            _offsets[id] = _buffer.Position;
            Raw($"{id} 0 obj\n{body}\nendobj\n");
        }

        public void Stream(int id, byte[] data)
        {
            _offsets[id] = _buffer.Position;
            Raw($"{id} 0 obj\n<< /Length {data.Length} >>\nstream\n");
            Raw(data);
            Raw("\nendstream\nendobj\n");
        }

        public byte[] ToArray() => _buffer.ToArray();
    }
}
