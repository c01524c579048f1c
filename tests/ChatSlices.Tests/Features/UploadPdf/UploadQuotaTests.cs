using System.Net;
using System.Net.Http.Json;
using ChatSlices.Infrastructure.Documents;
using ChatSlices.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace ChatSlices.Tests.Features.UploadPdf;

/// <summary>
/// What an upload costs and when it is refused: the embedding tokens it spends (here with an <c>openai</c> embedding
/// model) and the bounded extraction queue (one running, one waiting).
/// </summary>
public class UploadQuotaTests(UploadQuotaTests.UploadApi api) : IClassFixture<UploadQuotaTests.UploadApi>
{
    public sealed class UploadApi : ChatApiFactory
    {
        public UploadApi() => With("AI:EmbeddingModel", "fake-embed")
            .With("Uploads:MaxConcurrentExtractions", "1").With("Uploads:MaxWaitingExtractions", "1");
    }

    private async Task<(HttpClient Client, string SessionId)> SessionAsync(string user, string? tier = null)
    {
        var client = api.SocketClient(Tokens.For(user, tier: tier));
        var session = await (await client.PostAsJsonAsync("/v1/chat/sessions", new { model = "fake-gpt" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        return (client, session.Str("id"));
    }

    private static byte[] Pdf(string topic) => TestPdf.Create([[$"All about {topic}.", $"{topic} is the only subject of this page."]]);

    [Fact]
    public async Task UploadEmbeddings_CountAsTheProviderReportsThem()
    {
        var (client, sessionId) = await SessionAsync("remote-embedder");
        var requestsBefore = api.Upstream.EmbeddedTexts.Count;

        await (await client.PostAsync($"/v1/chat/sessions/{sessionId}/upload", Uploads.Form(UploadPdfTests.Handbook()))).ShouldBeJsonAsync(HttpStatusCode.Created);

        api.Upstream.EmbeddedTexts.Count.Should().BeGreaterThan(requestsBefore, "the chunks went to the provider");
        var usage = await (await client.GetAsync("/v1/tokens/usage")).ShouldBeJsonAsync(HttpStatusCode.OK);
        var embedding = usage.GetProperty("by_model").EnumerateArray().Should().ContainSingle().Subject;
        embedding.Str("model").Should().Be("fake-embed");
        embedding.GetProperty("prompt_tokens").GetInt64().Should().Be(1, "the fake provider reports 1 token for each embeddings request, and one batch took every chunk");

        // A turn that searches with another embedding model has the session's documents embedded again: the session owner's use too.
        api.Upstream.Script = new FakeScript();
        (await client.PostAsJsonAsync("/v1/chat/stream", new { query = "When do offices open?", session_id = sessionId, stream = false, embedding_model = "local-embed" }))
            .EnsureSuccessStatusCode();
        var after = await (await client.GetAsync("/v1/tokens/usage")).ShouldBeJsonAsync(HttpStatusCode.OK);
        var models = after.GetProperty("by_model").EnumerateArray().ToDictionary(m => m.Str("model"), m => m.GetProperty("prompt_tokens").GetInt64());
        models.Keys.Should().BeEquivalentTo(["fake-embed", "local-embed", "fake-gpt"]);
        models["local-embed"].Should().BePositive();
        after.GetProperty("by_kind").EnumerateArray().Select(k => k.Str("kind")).Should().BeEquivalentTo(["embedding", "chat"]);
    }

    [Fact]
    public async Task AnUploadMeetingAFullExtractionQueue_Is503WithRetryAfter_AtOnce()
    {
        var (client, sessionId) = await SessionAsync("queued-uploader");
        var queue = api.Services.GetRequiredService<ExtractionQueue>();
        var running = (await queue.EnterAsync(CancellationToken.None)).Value!;
        var waiting = queue.EnterAsync(CancellationToken.None); // the one place in the queue
        HttpResponseMessage refused;
        try
        {
            var upload = client.PostAsync($"/v1/chat/sessions/{sessionId}/upload", Uploads.Form(Pdf("queues")));
            (await Task.WhenAny(upload, Task.Delay(TimeSpan.FromSeconds(20)))).Should().BeSameAs(upload,
                "an upload that finds the queue full is answered at once, not held (with its bytes) until a place is free");
            refused = await upload;
        }
        finally
        {
            running.Dispose();
            (await waiting).Value!.Dispose();
        }

        var problem = await refused.ShouldBeProblemAsync(HttpStatusCode.ServiceUnavailable);
        problem.Str("code").Should().Be("extraction_queue_full");
        refused.Headers.RetryAfter!.Delta!.Value.TotalSeconds.Should().BePositive();
        (await api.ScalarAsync<long>("SELECT count(*) FROM documents WHERE session_id = @id::uuid", new { id = sessionId })).Should().Be(0);
        await (await client.PostAsync($"/v1/chat/sessions/{sessionId}/upload", Uploads.Form(Pdf("queues")))).ShouldBeJsonAsync(HttpStatusCode.Created);
    }
}
