using System.Net;
using System.Net.Http.Json;
using ChatSlices.Tests.Features.UploadPdf;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.StreamChat;

public class QuestionEmbeddingTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    [Fact]
    public async Task ATurnThatLooksUpTheCacheAndRetrieves_EmbedsTheQuestionOnce()
    {
        var admin = api.AdminClient();
        var assistant = (await (await admin.PostAsJsonAsync("/v1/assistants", new
        {
            name = "Embeds once", instructions = "Answer briefly.", model = "fake-gpt",
            settings = new { cache = new { similarity_threshold = 0.95, ttl_seconds = 3600 } },
        })).ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");
        await (await admin.PostAsync($"/v1/assistants/{assistant}/documents", Uploads.Form(UploadPdfTests.Handbook())))
            .ShouldBeJsonAsync(HttpStatusCode.Created);
        api.Upstream.Script = new FakeScript();
        const string question = "How many vacation days does a new employee get in the first year?";

        var response = await api.SocketClient(Tokens.For("embeds-once")).SendAsync(ChatApiFactory.Post("/v1/chat/stream",
            new { query = question, assistant_id = assistant, embedding_model = "fake-embed" }), HttpCompletionOption.ResponseHeadersRead);
        var events = await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync();

        events.Single(e => e.Event == "done").Json.GetProperty("completed").GetBoolean().Should().BeTrue();
        events.Single(e => e.Event == "sources").Json.GetProperty("sources").GetArrayLength().Should().BeGreaterThan(0, "retrieval ran");
        (await api.ScalarAsync<long>("SELECT count(*) FROM semantic_cache WHERE assistant_id = @id::uuid", new { id = assistant }))
            .Should().Be(1, "the cache was looked up and the answer stored");
        api.Upstream.EmbeddedTexts.Count(text => text == question).Should().Be(1);
    }

    [Fact]
    public async Task TheSameQuestionAgain_IsAnsweredFromTheCache_WithoutEmbeddingItAgain()
    {
        var assistant = (await (await api.AdminClient().PostAsJsonAsync("/v1/assistants", new
        {
            name = "Exact hits", instructions = "Answer briefly.", model = "fake-gpt",
            settings = new { cache = new { similarity_threshold = 0.95, ttl_seconds = 3600 } },
        })).ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");
        api.Upstream.Script = new FakeScript();
        const string question = "Which floor is the cafeteria on?";

        var dones = new List<System.Text.Json.JsonElement>();
        foreach (var _ in new[] { "asked", "asked again" })
        {
            var response = await api.SocketClient(Tokens.For("exact-hits")).SendAsync(ChatApiFactory.Post("/v1/chat/stream",
                new { query = question, assistant_id = assistant, context_mode = "none", embedding_model = "fake-embed" }), HttpCompletionOption.ResponseHeadersRead);
            dones.Add((await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync()).Single(e => e.Event == "done").Json);
        }

        dones.Select(d => d.GetProperty("cached").GetBoolean()).Should().Equal(false, true);
        api.Upstream.EmbeddedTexts.Count(text => text == question).Should().Be(1, "the first turn embeds it for the nearest cached questions and stores it");
    }
}
