using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChatSlices.Tests.Features.UploadPdf;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.Assistants;

public class SemanticCacheTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    private static int _names;

    private async Task<string> AssistantAsync(double threshold = 0.95) =>
        (await (await api.AdminClient().PostAsJsonAsync("/v1/assistants", new
        {
            name = $"Cached {Interlocked.Increment(ref _names)}", instructions = "Answer briefly.", model = "fake-gpt",
            settings = new { cache = new { similarity_threshold = threshold, ttl_seconds = 3600 } },
        })).ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");

    /// <summary>Asks in a new session (as a user would open a new chat) and returns the events and whether the upstream was called.</summary>
    private async Task<(List<SseEvent> Events, bool CalledUpstream)> AskAsync(string assistantId, string question, string contextMode = "rag")
    {
        api.Upstream.Script = new FakeScript();
        var before = api.Upstream.Requests.Count;
        var response = await api.SocketClient(Tokens.For("cache-user")).SendAsync(
            ChatApiFactory.Post("/v1/chat/stream", new { query = question, assistant_id = assistantId, context_mode = contextMode }), HttpCompletionOption.ResponseHeadersRead);
        var events = await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync();
        return (events, api.Upstream.Requests.Count > before);
    }

    private static JsonElement Done(List<SseEvent> events) => events.Single(e => e.Event == "done").Json;

    [Fact]
    public async Task TheSameQuestionAgain_IsAnsweredFromTheCache_WithoutCallingTheModel()
    {
        var id = await AssistantAsync();
        var (first, firstCalled) = await AskAsync(id, "How do I reset my password?");

        var (second, secondCalled) = await AskAsync(id, "how do I reset my password");

        firstCalled.Should().BeTrue();
        Done(first).GetProperty("cached").GetBoolean().Should().BeFalse();
        secondCalled.Should().BeFalse();
        Done(second).GetProperty("cached").GetBoolean().Should().BeTrue();
        Done(second).GetProperty("similarity").GetDouble().Should().Be(1.0);
        second.Select(e => e.Event).Should().StartWith(["session", "sources", "text"]).And.EndWith(["usage", "done"]);
        string.Concat(second.Where(e => e.Event == "text").Select(e => e.Json.Str("content"))).Should().Be("Hello from the fake model.");
        var usage = second.Single(e => e.Event == "usage").Json;
        usage.GetProperty("cost").GetDecimal().Should().Be(0);
        usage.GetProperty("total_tokens").GetInt32().Should().Be(0);
        var sessionId = second[0].Json.Str("session_id");
        (await api.ScalarAsync<string>("SELECT string_agg(role || ':' || status || ':' || coalesce(cost::text, ''), '|' ORDER BY created_at) FROM chat_messages WHERE session_id = @id::uuid", new { id = sessionId }))
            .Should().Be("user:complete:|assistant:complete:0.00000000");
    }

    [Fact]
    public async Task AParaphraseAboveTheThreshold_Hits_ButANegationOrAnotherNumber_Misses()
    {
        var id = await AssistantAsync(threshold: 0.75);
        await AskAsync(id, "How do I enable two factor authentication for my account?");

        var (paraphrase, paraphraseCalled) = await AskAsync(id, "How do I enable two factor authentication on my account?");
        var (negated, negatedCalled) = await AskAsync(id, "How do I disable two factor authentication for my account?");
        await AskAsync(id, "Can I keep 2 devices for two factor authentication?");
        var (number, numberCalled) = await AskAsync(id, "Can I keep 3 devices for two factor authentication?");

        paraphraseCalled.Should().BeFalse();
        Done(paraphrase).GetProperty("cached").GetBoolean().Should().BeTrue();
        Done(paraphrase).GetProperty("similarity").GetDouble().Should().BeInRange(0.75, 0.9999);
        negatedCalled.Should().BeTrue();
        Done(negated).GetProperty("cached").GetBoolean().Should().BeFalse();
        numberCalled.Should().BeTrue();
        Done(number).GetProperty("cached").GetBoolean().Should().BeFalse();
    }

    [Fact]
    public async Task NewInstructionsOrANewDocument_InvalidateTheCache()
    {
        var id = await AssistantAsync();
        await AskAsync(id, "What are the opening hours?");
        (await AskAsync(id, "What are the opening hours?")).CalledUpstream.Should().BeFalse();

        await api.AdminClient().PutAsJsonAsync($"/v1/assistants/{id}", new { instructions = "Answer in detail." });
        (await AskAsync(id, "What are the opening hours?")).CalledUpstream.Should().BeTrue("the instructions changed");
        (await AskAsync(id, "What are the opening hours?")).CalledUpstream.Should().BeFalse();

        await api.AdminClient().PostAsync($"/v1/assistants/{id}/documents", Uploads.Form(UploadPdfTests.Handbook()));
        (await AskAsync(id, "What are the opening hours?")).CalledUpstream.Should().BeTrue("the knowledge changed");
    }

    [Fact]
    public async Task AnAnswerCachedWithRetrieval_IsNotServedToATurnWithout()
    {
        var id = await AssistantAsync();
        await AskAsync(id, "What does the warranty cover?");

        (await AskAsync(id, "What does the warranty cover?", contextMode: "none")).CalledUpstream.Should().BeTrue();
        (await AskAsync(id, "What does the warranty cover?", contextMode: "none")).CalledUpstream.Should().BeFalse();
        (await AskAsync(id, "What does the warranty cover?")).CalledUpstream.Should().BeFalse();
    }

    [Fact]
    public async Task ExpiredEntries_Miss()
    {
        var id = await AssistantAsync();
        await AskAsync(id, "Where is the parking?");
        (await AskAsync(id, "Where is the parking?")).CalledUpstream.Should().BeFalse("the entry is there and answers while it lives");
        var expired = await api.ScalarAsync<long>("""
            WITH expired AS (UPDATE semantic_cache SET expires_at = now() - interval '1 second' WHERE assistant_id = @id::uuid RETURNING 1)
            SELECT count(*) FROM expired
            """, new { id = Guid.Parse(id) });
        expired.Should().Be(1);

        (await AskAsync(id, "Where is the parking?")).CalledUpstream.Should().BeTrue();
    }

    [Fact]
    public async Task ClearCache_ReturnsHowManyEntriesWent_AndTheNextQuestionMisses()
    {
        var id = await AssistantAsync();
        await AskAsync(id, "First question about lunch?");
        await AskAsync(id, "Second question about dinner?");

        var cleared = await (await api.AdminClient().DeleteAsync($"/v1/assistants/{id}/cache")).ShouldBeJsonAsync(HttpStatusCode.OK);

        cleared.GetProperty("deleted_count").GetInt64().Should().Be(2);
        (await AskAsync(id, "First question about lunch?")).CalledUpstream.Should().BeTrue();
        (await api.AdminClient().DeleteAsync($"/v1/assistants/{Guid.NewGuid()}/cache")).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task FailedReplies_AreNotCached()
    {
        var id = await AssistantAsync();
        api.Upstream.Script = new FakeScript { Status = 500 };
        var failed = await api.SocketClient(Tokens.For("cache-user")).PostAsJsonAsync("/v1/chat/stream", new { query = "Will this fail?", assistant_id = id, stream = false });

        (await failed.ShouldBeProblemAsync(HttpStatusCode.ServiceUnavailable)).Str("code").Should().Be("provider_unavailable");

        (await api.ScalarAsync<long>("SELECT count(*) FROM semantic_cache WHERE assistant_id = @id::uuid", new { id = Guid.Parse(id) })).Should().Be(0);
        (await AskAsync(id, "Will this fail?")).CalledUpstream.Should().BeTrue();
    }

    [Theory]
    [InlineData("length", new[] { "Cut off in the mid" })]
    [InlineData("stop", new string[0])]
    public async Task TruncatedOrEmptyReplies_AreNotCached(string finishReason, string[] chunks)
    {
        var id = await AssistantAsync();
        api.Upstream.Script = new FakeScript { FinishReason = finishReason, Chunks = chunks };
        var response = await api.SocketClient(Tokens.For("cache-user")).SendAsync(
            ChatApiFactory.Post("/v1/chat/stream", new { query = "Tell me everything about the fleet?", assistant_id = id }), HttpCompletionOption.ResponseHeadersRead);
        var events = await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync();

        Done(events).Str("finish_reason").Should().Be(finishReason);
        (await api.ScalarAsync<long>("SELECT count(*) FROM semantic_cache WHERE assistant_id = @id::uuid", new { id = Guid.Parse(id) })).Should().Be(0);
        (await AskAsync(id, "Tell me everything about the fleet?")).CalledUpstream.Should().BeTrue();
    }

    [Fact]
    public async Task ConcurrentIdenticalMisses_StoreOneEntry()
    {
        var id = await AssistantAsync();
        // The fake holds every answer until all five questions have reached it: the five turns overlap, each a miss.
        var allArrived = api.Upstream.WhenRequestsAsync(api.Upstream.Requests.Count + 5);
        api.Upstream.Script = new FakeScript { HoldUntil = allArrived };

        var responses = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => api.SocketClient(Tokens.For("cache-user"))
            .PostAsJsonAsync("/v1/chat/stream", new { query = "Same question at once?", assistant_id = id, stream = false })));

        allArrived.IsCompletedSuccessfully.Should().BeTrue("all five called the model: none was answered from an entry another stored first");
        foreach (var response in responses)
            (await response.ShouldBeJsonAsync(HttpStatusCode.OK)).GetProperty("cached").GetBoolean().Should().BeFalse();
        (await api.ScalarAsync<long>("SELECT count(*) FROM semantic_cache WHERE assistant_id = @id::uuid", new { id = Guid.Parse(id) })).Should().Be(1);
    }
}
