using System.Diagnostics;
using System.Text;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Telemetry;
using Microsoft.Extensions.Options;

namespace ChatSlices.Infrastructure.Documents;

public sealed record ExtractedPdf(IReadOnlyList<string> Pages, string? Title, string? Author);

/// <summary>
/// Text from PDFs with poppler's <c>pdfinfo</c> and <c>pdftotext</c> as child processes: arguments passed as a list
/// (no shell), a time limit, output capped by the page count, as many at once as the <see cref="ExtractionQueue"/> admits.
/// An encrypted, corrupt or oversized document is a 422 with a clear reason.
/// </summary>
public sealed class PdfText(ExtractionQueue queue, IOptions<UploadSettings> settings, ChatMetrics metrics, ILogger<PdfText> logger)
{
    private const int MaxInfoChars = 64 * 1024;
    // A dense page holds a few thousand characters; ten times that is text no page has.
    private const int MaxCharsPerPage = 50_000;

    /// <summary>A PDF starts with <c>%PDF-</c>; readers accept it within the first kilobyte.</summary>
    public static bool LooksLikePdf(ReadOnlySpan<byte> bytes)
    {
        var head = bytes[..Math.Min(bytes.Length, 1024)];
        return head.IndexOf("%PDF-"u8) >= 0;
    }

    public async Task<Outcome<ExtractedPdf>> ExtractAsync(byte[] pdf, CancellationToken ct)
    {
        using var span = ChatTelemetry.Step("pdf extract");
        span?.SetTag("chatslices.pdf.bytes", pdf.Length);
        var admitted = await queue.EnterAsync(ct);
        if (admitted.Failure is { } busy)
        {
            span.Failed(busy.Code ?? "busy");
            return busy;
        }
        using var slot = admitted.Value!;
        var extracted = await ExtractOneAsync(pdf, ct);
        if (extracted.Failure is { } failure) span.Failed(failure.Code ?? "invalid_pdf");
        else
        {
            span?.SetTag("chatslices.pdf.pages", extracted.Value!.Pages.Count);
            metrics.Uploaded(pdf.Length, extracted.Value!.Pages.Count);
        }
        return extracted;
    }

    private async Task<Outcome<ExtractedPdf>> ExtractOneAsync(byte[] pdf, CancellationToken ct)
    {
        var path = Path.Combine(Path.GetTempPath(), $"chatslices-{Guid.NewGuid():N}.pdf");
        await File.WriteAllBytesAsync(path, pdf, ct);
        try
        {
            var info = await RunAsync("pdfinfo", [path], MaxInfoChars, ct);
            if (info.TimedOut || info.TextCut) return Unprocessable("Reading the PDF took too long.");
            if (info.ExitCode != 0)
                return info.Error.Contains("password", StringComparison.OrdinalIgnoreCase)
                    ? Unprocessable("The PDF is encrypted; upload it without a password.")
                    : Unprocessable("The file is not a readable PDF (it is corrupt or truncated).");
            var fields = Fields(info.Output);
            if (fields.GetValueOrDefault("Encrypted", "no").StartsWith("yes", StringComparison.OrdinalIgnoreCase))
                return Unprocessable("The PDF is encrypted; upload it without a password.");
            if (!int.TryParse(fields.GetValueOrDefault("Pages"), out var pageCount) || pageCount < 1)
                return Unprocessable("The file is not a readable PDF (no pages).");
            if (pageCount > settings.Value.MaxPages)
                return Unprocessable($"The PDF has {pageCount} pages; at most {settings.Value.MaxPages} are accepted.");

            var text = await RunAsync("pdftotext", ["-enc", "UTF-8", "-eol", "unix", "-l", pageCount.ToString(), path, "-"], (int)Math.Min(int.MaxValue / 2, (long)pageCount * MaxCharsPerPage), ct);
            if (text.TimedOut) return Unprocessable("Extracting the PDF's text took too long.");
            if (text.TextCut) return Unprocessable("The PDF holds more text than this service accepts.");
            if (text.ExitCode != 0) return Unprocessable("The PDF's text could not be extracted (it is corrupt).");

            // pdftotext ends every page with a form feed.
            var pages = text.Output.Split('\f').Take(pageCount).Select(p => p.Trim()).ToList();
            while (pages.Count < pageCount) pages.Add("");
            return new ExtractedPdf(pages, NonEmpty(fields.GetValueOrDefault("Title")), NonEmpty(fields.GetValueOrDefault("Author")));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static Failure Unprocessable(string detail) => new(StatusCodes.Status422UnprocessableEntity, detail, "invalid_pdf");

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static Dictionary<string, string> Fields(string pdfinfo) =>
        pdfinfo.Split('\n')
            .Select(line => line.Split(':', 2))
            .Where(parts => parts.Length == 2)
            .GroupBy(parts => parts[0].Trim())
            .ToDictionary(g => g.Key, g => g.First()[1].Trim());

    private sealed record Run(int ExitCode, string Output, string Error, bool TimedOut, bool TextCut);

    private async Task<Run> RunAsync(string tool, string[] arguments, int maxChars, CancellationToken ct)
    {
        var start = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{tool} did not start.");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(settings.Value.ExtractionTimeoutSeconds));
        var output = ReadCappedAsync(process.StandardOutput, maxChars, drain: false, timeout.Token);
        // Drained to the end: a tool blocked on a full stderr pipe (megabytes of "Syntax Error" lines) never exits.
        var error = ReadCappedAsync(process.StandardError, 8 * 1024, drain: true, timeout.Token);
        try
        {
            var (text, cut) = await output;
            if (cut) process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(timeout.Token);
            return new Run(process.ExitCode, text, (await error).Text, TimedOut: false, cut);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            logger.LogWarning("{Tool} timed out after {Seconds} s", tool, settings.Value.ExtractionTimeoutSeconds);
            return new Run(-1, "", "", TimedOut: true, TextCut: false);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    /// <summary>At most <paramref name="maxChars"/> of the stream; past them, stops (the caller kills the tool) or, with <paramref name="drain"/>, reads on and drops the rest.</summary>
    private static async Task<(string Text, bool Cut)> ReadCappedAsync(StreamReader reader, int maxChars, bool drain, CancellationToken ct)
    {
        var text = new StringBuilder();
        var buffer = new char[16 * 1024];
        var cut = false;
        int read;
        while ((read = await reader.ReadAsync(buffer, ct)) > 0)
        {
            if (cut) continue;
            if (text.Length + read > maxChars)
            {
                if (!drain) return (text.ToString(), true);
                cut = true;
                continue;
            }
            text.Append(buffer, 0, read);
        }
        return (text.ToString(), cut);
    }
}
