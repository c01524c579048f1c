using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using ChatSlices.Bench.Common;
using static ChatSlices.Bench.Common.Figures;

namespace DataBench;

/// <summary>
/// Scenario 3: PDF ingestion, POST /v1/chat/sessions/{id}/upload of generated PDFs, against <c>pdftotext</c> alone on the
/// same bytes. The pages are few because the default embedder (all-MiniLM-L6-v2 on the service's cores) embeds some ten
/// to thirty chunks a second, and these dense pages make three or four chunks each (bench/models measures it in process).
/// </summary>
internal static class Ingestion
{
    private static async Task<double> PdftotextSecondsAsync(byte[] pdf)
    {
        var path = Path.Combine(Path.GetTempPath(), $"databench-{Guid.NewGuid():N}.pdf");
        await File.WriteAllBytesAsync(path, pdf);
        try
        {
            var info = new ProcessStartInfo("pdftotext") { ArgumentList = { "-enc", "UTF-8", "-eol", "unix", path, "-" }, RedirectStandardOutput = true };
            var sw = Stopwatch.StartNew();
            using var process = Process.Start(info)!;
            await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            if (process.ExitCode != 0) throw new InvalidOperationException($"pdftotext exited with {process.ExitCode}");
            return sw.Elapsed.TotalSeconds;
        }
        finally
        {
            File.Delete(path);
        }
    }

    public static async Task<int> RunAsync(string baseUrl, string token, int runs)
    {
        using var http = ServiceHttp.Client(baseUrl, token);
        var cases = new (string Name, int Pages, int PadTo)[]
        {
            ("20 pages × 40 lines, born-digital", 20, 0),
            ("~10 MB (service max): 20 text pages + unreferenced padding", 20, 10_000_000),
        };
        Console.WriteLine($"### PDF upload (POST /v1/chat/sessions/{{id}}/upload, multipart `file`; a new session per upload; {runs} runs, after 1 warm-up)");
        Console.WriteLine();
        Console.WriteLine("| PDF | bytes | seconds | pages/s | chunks/s | `pdftotext` alone, pages/s | service ÷ `pdftotext` alone (per run) | response |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        var figures = new Dictionary<string, object>();
        foreach (var (name, pages, padTo) in cases) figures[name] = await CaseAsync(http, name, pages, padTo, runs);
        Console.WriteLine();
        Console.WriteLine("`pdftotext` alone: one `pdftotext -enc UTF-8 -eol unix FILE -` (the service's own call) over the same bytes, in the same run: the " +
            "extraction floor. The service also runs `pdfinfo`, splits the pages, chunks, embeds, and stores bytes, pages and chunks.");
        Console.WriteLine();
        DataResults.Write("pdf", figures);
        return 0;
    }

    /// <summary>One PDF: a warm-up upload and <paramref name="runs"/> measured ones, each against pdftotext alone; one row of the table.</summary>
    private static async Task<object> CaseAsync(HttpClient http, string name, int pages, int padTo, int runs)
    {
        var seconds = new List<double>();
        var floor = new List<double>();
        var size = 0;
        var chunks = 0;
        var info = "";
        for (var run = 0; run <= runs; run++)
        {
            var pdf = Pdf.TextPages(pages, 40, $"run{run}-{Guid.NewGuid():N}"[..16], padTo);
            size = pdf.Length;
            (var elapsed, chunks, info) = await UploadAsync(http, pdf, pages, run);
            ServiceHttp.Log($"upload {name} run {run}: {elapsed:0.000} s");
            if (run == 0) continue; // the warm-up
            seconds.Add(elapsed);
            floor.Add(await PdftotextSecondsAsync(pdf));
        }
        List<double> ratio = [.. seconds.Zip(floor, (service, alone) => alone / service)];
        Console.WriteLine($"| {name} | {size:N0} | {DataResults.Mmm(seconds, "0.000")} | {DataResults.Mmm(seconds.Select(s => pages / s).ToList(), "0.0")} | " +
            $"{DataResults.Mmm(seconds.Select(s => chunks / s).ToList(), "0.0")} | " +
            $"{DataResults.Mmm(floor.Select(s => pages / s).ToList(), "0")} | {DataResults.Mmm(ratio, "0.00")}× | {info} |");
        return new
        {
            bytes = size, pages, chunks, seconds = Json(seconds), pages_per_s = Json([.. seconds.Select(s => pages / s)]),
            chunks_per_s = Json([.. seconds.Select(s => chunks / s)]),
            pdftotext_alone_pages_per_s = Json([.. floor.Select(s => pages / s)]), ratio_to_pdftotext_alone = Json(ratio),
        };
    }

    /// <summary>Uploads <paramref name="pdf"/> into a new session: the seconds until the answer, its chunks, and what the answer says of the file.</summary>
    private static async Task<(double Seconds, int Chunks, string Info)> UploadAsync(HttpClient http, byte[] pdf, int pages, int run)
    {
        var session = await ServiceHttp.NewSessionAsync(http, $"upload bench {run}");
        using var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(pdf);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/pdf");
        form.Add(file, "file", $"bench-{pages}.pdf");
        var sw = Stopwatch.StartNew();
        using var res = await http.PostAsync($"/v1/chat/sessions/{session}/upload", form);
        var body = await res.Content.ReadAsStringAsync();
        var elapsed = sw.Elapsed.TotalSeconds;
        if ((int)res.StatusCode != 201) throw new InvalidOperationException($"upload: {(int)res.StatusCode} {body[..Math.Min(400, body.Length)]}");
        var f = JsonDocument.Parse(body).RootElement.GetProperty("file");
        var metadata = f.GetProperty("metadata");
        return (elapsed, metadata.GetProperty("chunk_count").GetInt32(),
            $"201, page_count={metadata.GetProperty("page_count")}, chunk_count={metadata.GetProperty("chunk_count")} ({metadata.GetProperty("embedding_model")}), " +
            $"extracted_text={f.GetProperty("extracted_text").GetString()!.Length} chars");
    }
}
