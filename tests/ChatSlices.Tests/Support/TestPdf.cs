using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace ChatSlices.Tests.Support;

/// <summary>
/// Builds PDF fixtures at test time, for upload tests that run the real poppler tools
/// (<c>pdftotext</c>, <c>pdfinfo</c>).
/// <list type="bullet">
/// <item><see cref="Create"/>: a born-digital PDF 1.4 (Helvetica, one content stream per page,
/// one line per string) with an exact xref table and an optional Info dictionary.</item>
/// <item><see cref="Encrypted"/>: that PDF, AES-256 encrypted with a user password by Debian's
/// <c>qpdf</c> (test.sh installs it).</item>
/// <item><see cref="Corrupt"/>: a <c>%PDF-1.4</c> header and garbage; pdfinfo and pdftotext exit 1.</item>
/// <item><see cref="Large"/>: a valid PDF padded with an unreferenced stream to a minimum size.</item>
/// <item><see cref="NotAPdf"/>: plain text.</item>
/// </list>
/// </summary>
public static class TestPdf
{
    /// <summary>User password of <see cref="Encrypted"/> PDFs (needed to open them).</summary>
    public const string UserPassword = "chatslices-user-pw";

    /// <summary>Owner password of <see cref="Encrypted"/> PDFs.</summary>
    public const string OwnerPassword = "chatslices-owner-pw";

    /// <summary>Most lines that fit on one page (12 pt Helvetica, 14 pt leading, US Letter).</summary>
    public const int MaxLinesPerPage = 48;

    private const int PageWidth = 612;   // US Letter, in points
    private const int PageHeight = 792;
    private const int MarginLeft = 56;
    private const int FirstBaseline = PageHeight - 64;
    private const int FontSize = 12;
    private const int Leading = 14;

    private static readonly TimeSpan QpdfTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A valid PDF 1.4 with one page per entry of <paramref name="pages"/>, each string of a page
    /// on its own line (12 pt Helvetica). <c>pdftotext</c> gives the lines in order, each page
    /// followed by a form feed; <c>pdfinfo</c> gives the page count, title and author.
    /// Lines are not wrapped: pass short lines (about 80 characters fit).
    /// Text is ASCII; Latin-1 letters (U+00A0–U+00FF) are written in WinAnsiEncoding, anything
    /// else becomes '?'. Title and author may be any Unicode text.
    /// </summary>
    public static byte[] Create(IReadOnlyList<IReadOnlyList<string>> pages, string? title = null, string? author = null)
        => Build(pages, title, author, paddingBytes: 0);

    /// <summary>
    /// One page saying <paramref name="line"/>, whose content stream (Flate-compressed, a few hundred KB) inflates to about
    /// <paramref name="inflatedBytes"/>: the line, then white space, which a reader must inflate and parse to the end.
    /// </summary>
    public static byte[] DecompressionBomb(string line, long inflatedBytes)
    {
        using var packed = new MemoryStream();
        using (var zlib = new System.IO.Compression.ZLibStream(packed, System.IO.Compression.CompressionLevel.SmallestSize, leaveOpen: true))
        {
            zlib.Write(PageContent([line]));
            var spaces = new byte[1024 * 1024];
            Array.Fill(spaces, (byte)' ');
            for (long written = 0; written < inflatedBytes; written += spaces.Length) zlib.Write(spaces);
        }
        return Build([[line]], null, null, paddingBytes: 0, firstPageContent: (packed.ToArray(), Deflated: true));
    }

    /// <summary>One page saying <paramref name="line"/>, its content stream ending in arrays nested <paramref name="depth"/> deep.</summary>
    public static byte[] DeeplyNested(string line, int depth)
    {
        var nested = Encoding.ASCII.GetBytes(new string('[', depth) + new string(']', depth) + "\n");
        return Build([[line]], null, null, paddingBytes: 0, firstPageContent: ([.. PageContent([line]), .. nested], Deflated: false));
    }

    /// <summary>
    /// <paramref name="pdf"/> encrypted with AES-256 (user password <see cref="UserPassword"/>,
    /// owner password <see cref="OwnerPassword"/>) by running
    /// <c>qpdf --encrypt USERPW OWNERPW 256 -- in.pdf out.pdf</c>. Without the password,
    /// <c>pdfinfo</c> fails with "Command Line Error: Incorrect password".
    /// </summary>
    public static byte[] Encrypted(byte[] pdf)
    {
        ArgumentNullException.ThrowIfNull(pdf);

        var dir = Directory.CreateTempSubdirectory("chatslices-testpdf-");
        try
        {
            var input = Path.Combine(dir.FullName, "in.pdf");
            var output = Path.Combine(dir.FullName, "out.pdf");
            File.WriteAllBytes(input, pdf);

            var psi = new ProcessStartInfo("qpdf")
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                CreateNoWindow = true,
            };
            foreach (var arg in new[] { "--encrypt", UserPassword, OwnerPassword, "256", "--", input, output })
                psi.ArgumentList.Add(arg);

            var (exitCode, stdout, stderr) = Run(psi, QpdfTimeout);

            // qpdf: 0 = success, 3 = success with warnings (the output is written); 2 = error.
            if ((exitCode != 0 && exitCode != 3) || !File.Exists(output) || new FileInfo(output).Length == 0)
                throw new InvalidOperationException(
                    $"qpdf --encrypt failed (exit code {exitCode}): {stderr.Trim()} {stdout.Trim()}".TrimEnd());

            return File.ReadAllBytes(output);
        }
        finally
        {
            try { dir.Delete(recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>
    /// Starts with <c>%PDF-1.4</c>, then garbage: no objects, no xref table, no trailer, and none
    /// of the keywords poppler's reconstruction looks for. Both <c>pdfinfo</c> and
    /// <c>pdftotext</c> (poppler 22.12) exit 1 with "Syntax Error: Couldn't find trailer
    /// dictionary" / "Syntax Error: Couldn't read xref table".
    /// </summary>
    public static byte[] Corrupt()
    {
        var sb = new StringBuilder();
        sb.Append("%PDF-1.4\n");
        sb.Append("%\u00e2\u00e3\u00cf\u00d3\n");
        for (var i = 0; i < 64; i++)
            sb.Append("#@! this file was cut off and overwritten with noise, line ")
              .Append(i.ToString(CultureInfo.InvariantCulture))
              .Append(" ~~~~ ]]]] >>>> <<<< ????\n");
        return Encoding.Latin1.GetBytes(sb.ToString());
    }

    /// <summary>
    /// A valid one-page PDF (extractable text) of at least <paramref name="minBytes"/> bytes,
    /// padded with a large uncompressed stream object that no page refers to.
    /// </summary>
    public static byte[] Large(int minBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minBytes);

        var pages = new[]
        {
            new[]
            {
                "Large test document",
                $"Padded to at least {minBytes.ToString(CultureInfo.InvariantCulture)} bytes",
                "The padding is an unreferenced stream object",
            },
        };

        var pdf = Build(pages, "Large test document", "ChatSlices tests", paddingBytes: 0);
        if (pdf.Length >= minBytes)
            return pdf;

        // The padding object adds its data plus some fixed overhead (object header, dictionary,
        // xref entry); asking for the whole shortfall as data always reaches minBytes.
        return Build(pages, "Large test document", "ChatSlices tests", paddingBytes: minBytes - pdf.Length);
    }

    /// <summary>Plain text, no PDF header: what a user uploads when a text file is named *.pdf.</summary>
    public static byte[] NotAPdf()
        => Encoding.ASCII.GetBytes("This is not a PDF, just text named report.pdf\nSecond line of plain text.\n");

    // -----------------------------------------------------------------------------------------

    private static byte[] Build(IReadOnlyList<IReadOnlyList<string>> pages, string? title, string? author, int paddingBytes,
        (byte[] Data, bool Deflated)? firstPageContent = null)
    {
        ArgumentNullException.ThrowIfNull(pages);
        if (pages.Count == 0)
            throw new ArgumentException("A PDF needs at least one page.", nameof(pages));
        for (var p = 0; p < pages.Count; p++)
        {
            if (pages[p] is null)
                throw new ArgumentException($"Page {p + 1} is null.", nameof(pages));
            if (pages[p].Count > MaxLinesPerPage)
                throw new ArgumentException(
                    $"Page {p + 1} has {pages[p].Count} lines; at most {MaxLinesPerPage} fit on a page.", nameof(pages));
        }

        // Object numbers: 1 catalog, 2 page tree, 3 font, then per page (page, content),
        // then Info (if any), then the padding stream (if any).
        const int catalogId = 1, pagesId = 2, fontId = 3;
        int PageId(int index) => 4 + 2 * index;
        int ContentId(int index) => 5 + 2 * index;
        var nextId = 4 + 2 * pages.Count;
        var infoId = title is not null || author is not null ? nextId++ : 0;
        var paddingId = paddingBytes > 0 ? nextId++ : 0;
        var objectCount = nextId;   // including object 0

        var w = new PdfWriter(objectCount);
        w.Raw("%PDF-1.4\n");
        w.Raw(new byte[] { (byte)'%', 0xE2, 0xE3, 0xCF, 0xD3, (byte)'\n' });   // "binary file" marker

        w.Object(catalogId, $"<< /Type /Catalog /Pages {pagesId} 0 R >>");

        var kids = string.Join(" ", Enumerable.Range(0, pages.Count).Select(i => $"{PageId(i)} 0 R"));
        w.Object(pagesId, $"<< /Type /Pages /Kids [{kids}] /Count {pages.Count} >>");

        w.Object(fontId, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>");

        for (var i = 0; i < pages.Count; i++)
        {
            w.Object(PageId(i),
                $"<< /Type /Page /Parent {pagesId} 0 R /MediaBox [0 0 {PageWidth} {PageHeight}] " +
                $"/Resources << /Font << /F1 {fontId} 0 R >> >> /Contents {ContentId(i)} 0 R >>");
            if (i == 0 && firstPageContent is { } content) w.Stream(ContentId(i), content.Data, content.Deflated);
            else w.Stream(ContentId(i), PageContent(pages[i]));
        }

        if (infoId != 0)
        {
            var info = new StringBuilder("<<");
            if (title is not null) info.Append(" /Title ").Append(TextString(title));
            if (author is not null) info.Append(" /Author ").Append(TextString(author));
            info.Append(" /Producer (ChatSlices.Tests TestPdf) >>");
            w.Object(infoId, info.ToString());
        }

        if (paddingId != 0)
            w.Stream(paddingId, Padding(paddingBytes));

        var xrefOffset = w.Position;
        var xref = new StringBuilder();
        xref.Append("xref\n");
        xref.Append("0 ").Append(objectCount.ToString(CultureInfo.InvariantCulture)).Append('\n');
        xref.Append("0000000000 65535 f\r\n");   // each entry is exactly 20 bytes
        for (var id = 1; id < objectCount; id++)
            xref.Append(w.OffsetOf(id).ToString("D10", CultureInfo.InvariantCulture)).Append(" 00000 n\r\n");
        xref.Append("trailer\n");
        xref.Append($"<< /Size {objectCount} /Root {catalogId} 0 R");
        if (infoId != 0) xref.Append($" /Info {infoId} 0 R");
        xref.Append(" >>\n");
        xref.Append("startxref\n").Append(xrefOffset.ToString(CultureInfo.InvariantCulture)).Append('\n');
        xref.Append("%%EOF\n");
        w.Raw(xref.ToString());

        return w.ToArray();
    }

    private static byte[] PageContent(IReadOnlyList<string> lines)
    {
        var sb = new StringBuilder();
        sb.Append("BT\n");
        sb.Append($"/F1 {FontSize} Tf\n");
        sb.Append($"{Leading} TL\n");
        sb.Append($"{MarginLeft} {FirstBaseline} Td\n");
        for (var i = 0; i < lines.Count; i++)
        {
            if (i > 0) sb.Append("T*\n");
            sb.Append(LiteralString(lines[i] ?? "")).Append(" Tj\n");
        }
        sb.Append("ET\n");
        return Encoding.Latin1.GetBytes(sb.ToString());
    }

    private static byte[] Padding(int bytes)
    {
        // Harmless uncompressed data: lines of '%'-free ASCII, exactly `bytes` long.
        var data = new byte[bytes];
        var line = Encoding.ASCII.GetBytes("padding padding padding padding padding padding padding padding\n");
        for (var i = 0; i < bytes; i++)
            data[i] = line[i % line.Length];
        return data;
    }

    /// <summary>A PDF literal string for page text, in WinAnsiEncoding (see <see cref="Create"/>).</summary>
    private static string LiteralString(string text)
    {
        var sb = new StringBuilder(text.Length + 2);
        sb.Append('(');
        foreach (var c in text)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '(': sb.Append("\\("); break;
                case ')': sb.Append("\\)"); break;
                case '\t': sb.Append(' '); break;
                case >= ' ' and <= '~': sb.Append(c); break;
                case >= '\u00a0' and <= '\u00ff':
                    // WinAnsiEncoding equals Latin-1 here; an octal escape keeps the stream ASCII.
                    sb.Append('\\').Append(Convert.ToString(c, 8).PadLeft(3, '0'));
                    break;
                default: sb.Append('?'); break;
            }
        }
        sb.Append(')');
        return sb.ToString();
    }

    /// <summary>
    /// A PDF text string for the Info dictionary: an escaped literal string when the text is
    /// printable ASCII, otherwise UTF-16BE with a byte order mark, as a hex string.
    /// </summary>
    private static string TextString(string text)
    {
        if (text.All(c => c is >= ' ' and <= '~'))
            return LiteralString(text);

        var bytes = Encoding.BigEndianUnicode.GetBytes(text);
        return "<FEFF" + Convert.ToHexString(bytes) + ">";
    }

    private static (int ExitCode, string Stdout, string Stderr) Run(ProcessStartInfo psi, TimeSpan timeout)
    {
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {psi.FileName}.");
        }
        catch (Win32Exception ex)
        {
            throw new InvalidOperationException(
                $"Could not run '{psi.FileName}' ({ex.Message}). Install Debian's qpdf (apt-get install qpdf); ./test.sh does that.",
                ex);
        }

        using (process)
        {
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();

            if (!process.WaitForExit(timeout))
            {
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                process.WaitForExit();
                throw new TimeoutException($"{psi.FileName} did not finish within {timeout.TotalSeconds:0} s.");
            }
            process.WaitForExit();   // drains the redirected output

            return (process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
        }
    }

    /// <summary>Writes bytes and records the byte offset of every object, for the xref table.</summary>
    private sealed class PdfWriter(int objectCount)
    {
        private readonly MemoryStream _buffer = new();
        private readonly long[] _offsets = new long[objectCount];

        public long Position => _buffer.Position;

        public long OffsetOf(int id)
            => _offsets[id] > 0 ? _offsets[id] : throw new InvalidOperationException($"Object {id} was never written.");

        public void Raw(string text) => Raw(Encoding.Latin1.GetBytes(text));

        public void Raw(byte[] bytes) => _buffer.Write(bytes);

        public void Object(int id, string body)
        {
            _offsets[id] = _buffer.Position;
            Raw($"{id} 0 obj\n{body}\nendobj\n");
        }

        public void Stream(int id, byte[] data, bool deflated = false)
        {
            _offsets[id] = _buffer.Position;
            Raw($"{id} 0 obj\n<< /Length {data.Length}{(deflated ? " /Filter /FlateDecode" : "")} >>\nstream\n");
            Raw(data);
            Raw("\nendstream\nendobj\n");
        }

        public byte[] ToArray() => _buffer.ToArray();
    }
}
