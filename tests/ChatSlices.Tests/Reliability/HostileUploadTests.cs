using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Reliability;

/// <summary>Uploads built to cost the service time or memory are refused quickly or handled safely.</summary>
public class HostileUploadTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    private async Task<(HttpClient Client, string SessionId)> SessionAsync(string user)
    {
        var client = api.SocketClient(Tokens.For(user));
        var session = await (await client.PostAsJsonAsync("/v1/chat/sessions", new { model = "local-chat" })).JsonAsync();
        return (client, session.Str("id"));
    }

    [Fact]
    public async Task APdfWith10000EmptyPages_IsRefusedByItsPageCount_Quickly()
    {
        var (client, sessionId) = await SessionAsync("page-bomber");
        var pdf = TestPdf.Create(Enumerable.Range(0, 10_000).Select(_ => (IReadOnlyList<string>)[]).ToList());
        var clock = Stopwatch.StartNew();

        var problem = await (await client.PostAsync($"/v1/chat/sessions/{sessionId}/upload", Uploads.Form(pdf))).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);

        problem.Str("detail").Should().Contain("10000 pages");
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(15), "only pdfinfo runs; no text is extracted from a refused document");
        (await api.ScalarAsync<long>("SELECT count(*) FROM documents WHERE session_id = @id::uuid", new { id = sessionId })).Should().Be(0);
    }

    [Fact]
    public async Task APdfWithJavaScript_IsStoredAsText_AndItsScriptNeverRuns()
    {
        var (client, sessionId) = await SessionAsync("scripter");
        var pdf = TestPdf.Create([["Quarterly report.", "app.alert('owned'); this.exportDataObject({cName: 'x'});"]]);
        var withScript = System.Text.Encoding.Latin1.GetBytes(System.Text.Encoding.Latin1.GetString(pdf)
            .Replace("/Type /Catalog", "/Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert\\('owned'\\)) >>"));

        var file = await (await client.PostAsync($"/v1/chat/sessions/{sessionId}/upload", Uploads.Form(withScript))).ShouldBeJsonAsync(HttpStatusCode.Created);

        file.GetProperty("file").Str("extracted_text").Should().Contain("Quarterly report.");
        var content = await client.GetAsync($"/v1/files/{file.GetProperty("file").Str("id")}/content");
        content.Content.Headers.ContentDisposition!.DispositionType.Should().Be("attachment", "the original is a download, never rendered in place");
        content.Headers.GetValues("X-Content-Type-Options").Should().Equal("nosniff");
    }
}

/// <summary>
/// PDFs built to make the extractor inflate or parse without end: a decompression bomb is cut at the extraction timeout, a
/// document that only makes the extractor complain (200,000 syntax errors on stderr) is read; the service stays well.
/// </summary>
public static class HostilePdfs
{
    public static async Task<(HttpResponseMessage Response, TimeSpan Took)> UploadAsync(ChatApiFactory api, string user, byte[] pdf)
    {
        var client = api.SocketClient(Tokens.For(user));
        var session = await (await client.PostAsJsonAsync("/v1/chat/sessions", new { model = "local-chat" })).JsonAsync();
        var clock = Stopwatch.StartNew();
        var response = await client.PostAsync($"/v1/chat/sessions/{session.Str("id")}/upload", Uploads.Form(pdf));
        return (response, clock.Elapsed);
    }
}

public class DecompressionBombTests(DecompressionBombTests.ShortExtractionApi api) : IClassFixture<DecompressionBombTests.ShortExtractionApi>
{
    /// <summary>One second: pdftotext takes several to wade through a gigabyte of inflated content (3–11 s measured on 2 cores).</summary>
    public sealed class ShortExtractionApi : ChatApiFactory
    {
        public const int TimeoutSeconds = 1;

        public ShortExtractionApi() => With("Uploads:ExtractionTimeoutSeconds", TimeoutSeconds.ToString());
    }

    [Fact]
    public async Task ADecompressionBomb_IsCutAtTheExtractionTimeout()
    {
        var pdf = TestPdf.DecompressionBomb("Hello bomb", inflatedBytes: 1L << 30);
        pdf.Length.Should().BeLessThan(2 * 1024 * 1024, "a megabyte that inflates to a gigabyte");

        var (response, took) = await HostilePdfs.UploadAsync(api, "bomber", pdf);

        // Extracting the text is what takes long; on a loaded machine reading its info (pdfinfo) may already hit the limit.
        (await response.ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity)).Str("detail").Should().BeOneOf(
            "Extracting the PDF's text took too long.", "Reading the PDF took too long.");
        took.Should().BeLessThan(TimeSpan.FromSeconds(ShortExtractionApi.TimeoutSeconds + 10), "pdftotext is killed at the extraction timeout");
    }
}

public class HostilePdfStructureTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    [Fact]
    public async Task ObjectsNested100000Deep_AreRead_AndTheServiceStaysWell()
    {
        // pdftotext reads the page in a fraction of a second, with one "Syntax Error" line on stderr per unmatched bracket
        // (about 7 MB of them); the default 30 s extraction timeout leaves room for a loaded machine.
        var (response, _) = await HostilePdfs.UploadAsync(api, "nester", TestPdf.DeeplyNested("Deep inside", 100_000));

        (await response.ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("file").Str("extracted_text").Should().Contain("Deep inside");
        var (next, _) = await HostilePdfs.UploadAsync(api, "nester-after", TestPdf.Create([["Plain page."]]));
        next.StatusCode.Should().Be(HttpStatusCode.Created, "the service still reads ordinary PDFs");
    }
}
