using System.Net;
using System.Net.Http.Json;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.UploadPdf;

/// <summary>What an upload costs its uploader: the embedding tokens it spends (here with an <c>openai</c> embedding model).</summary>
public class UploadQuotaTests(UploadQuotaTests.UploadApi api) : IClassFixture<UploadQuotaTests.UploadApi>
{
    public sealed class UploadApi : ChatApiFactory
    {
        public UploadApi() => With("AI:EmbeddingModel", "fake-embed");
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
}
