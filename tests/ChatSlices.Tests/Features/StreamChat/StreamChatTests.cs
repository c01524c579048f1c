using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.StreamChat;

public class StreamChatTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    private async Task<(HttpResponseMessage Response, List<SseEvent> Events)> StreamAsync(object body, string? token = null)
    {
        var request = ChatApiFactory.Post("/v1/chat/stream", body);
        request.Headers.AcceptEncoding.ParseAdd("gzip, br"); // a stream must not be compressed even when the client would take it
        var response = await api.SocketClient(token).SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.Should().Be(HttpStatusCode.OK, await (response.IsSuccessStatusCode ? Task.FromResult("") : response.Content.ReadAsStringAsync()));
        var events = await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync();
        return (response, events);
    }

    [Fact]
    public async Task Stream_SendsSessionSourcesTextUsageDone_InOrder_WithIncreasingIds()
    {
        api.Upstream.Script = new FakeScript();

        var (response, events) = await StreamAsync(new { query = "Say hello", model = "fake-gpt" }, Tokens.For("sse-user"));

        response.Content.Headers.ContentType!.MediaType.Should().Be("text/event-stream");
        response.Headers.CacheControl!.NoCache.Should().BeTrue();
        response.Headers.CacheControl.NoTransform.Should().BeTrue();
        response.Headers.GetValues("X-Accel-Buffering").Should().Equal("no");
        response.Content.Headers.ContentEncoding.Should().BeEmpty();

        events.Select(e => e.Event).Should().Equal(["session", "sources", "text", "text", "text", "text", "text", "usage", "done"]);
        events.Select(e => long.Parse(e.Id!)).Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
        string.Concat(events.Where(e => e.Event == "text").Select(e => e.Json.GetProperty("content").GetString())).Should().Be("Hello from the fake model.");

        var session = events[0].Json;
        session.GetProperty("model").GetString().Should().Be("fake-gpt");
        events[1].Json.GetProperty("sources").GetArrayLength().Should().Be(0);
        var usage = events[^2].Json;
        usage.GetProperty("prompt_tokens").GetInt32().Should().Be(11);
        usage.GetProperty("completion_tokens").GetInt32().Should().Be(7);
        usage.GetProperty("total_tokens").GetInt32().Should().Be(18);
        usage.GetProperty("estimated").GetBoolean().Should().BeFalse();
        usage.GetProperty("cost").GetDecimal().Should().Be((11 * ChatApiFactory.InputPrice + 7 * ChatApiFactory.OutputPrice) / 1_000_000m);
        var done = events[^1].Json;
        done.GetProperty("completed").GetBoolean().Should().BeTrue();
        done.GetProperty("finish_reason").GetString().Should().Be("stop");
        done.GetProperty("cached").GetBoolean().Should().BeFalse();
        done.GetProperty("session_id").GetString().Should().Be(session.GetProperty("session_id").GetString());
        done.GetProperty("message_id").GetString().Should().Be(session.GetProperty("message_id").GetString());
    }

    [Fact]
    public async Task Stream_StoresTheUserTurnAndTheReply_WithUsageAndCost()
    {
        api.Upstream.Script = new FakeScript();

        var (_, events) = await StreamAsync(new { query = "Remember this question", model = "fake-gpt" }, Tokens.For("store-user"));
        var sessionId = Guid.Parse(events[0].Json.GetProperty("session_id").GetString()!);

        (await api.ScalarAsync<string>("SELECT user_id || '/' || model || '/' || title FROM chat_sessions WHERE id = @id", new { id = sessionId }))
            .Should().Be("store-user/fake-gpt/Remember this question");
        (await api.ScalarAsync<string>("SELECT string_agg(role || ':' || status || ':' || content, '|' ORDER BY created_at) FROM chat_messages WHERE session_id = @id", new { id = sessionId }))
            .Should().Be("user:complete:Remember this question|assistant:complete:Hello from the fake model.");
        (await api.ScalarAsync<string>("SELECT prompt_tokens || '/' || completion_tokens || '/' || cost || '/' || usage_estimated FROM chat_messages WHERE session_id = @id AND role = 'assistant'", new { id = sessionId }))
            .Should().Be("11/7/0.00009750/false");
    }

    [Fact]
    public async Task Stream_WithoutProviderUsage_EstimatesAndSaysSo()
    {
        api.Upstream.Script = new FakeScript { SendUsage = false };

        var (_, events) = await StreamAsync(new { query = "Count for me" });

        var usage = events.Single(e => e.Event == "usage").Json;
        usage.GetProperty("estimated").GetBoolean().Should().BeTrue();
        usage.GetProperty("completion_tokens").GetInt32().Should().BePositive();
        usage.GetProperty("prompt_tokens").GetInt32().Should().BePositive();
    }

    [Fact]
    public async Task Stream_SendsTokensAsTheUpstreamProducesThem_NotAllAtTheEnd()
    {
        var gap = TimeSpan.FromMilliseconds(300);
        api.Upstream.Script = new FakeScript { Chunks = ["one", " two", " three", " four", " five"], Delay = gap };

        var (_, events) = await StreamAsync(new { query = "Slowly please" });

        var texts = events.Where(e => e.Event == "text").ToList();
        texts.Should().HaveCount(5);
        var spread = Stopwatch.GetElapsedTime(texts[0].ArrivedAt, texts[^1].ArrivedAt);
        spread.Should().BeGreaterThan(gap * 3, "the chunks were 300 ms apart upstream, so they must arrive spread out, not batched");
    }

    [Fact]
    public async Task Stream_StoresTheUserTurn_BeforeTheModelAnswers()
    {
        api.Upstream.Script = new FakeScript { Chunks = ["late"], Delay = TimeSpan.FromSeconds(2) };
        var response = await api.SocketClient().SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "Stored before any token" }), HttpCompletionOption.ResponseHeadersRead);
        var reader = new SseReader(await response.Content.ReadAsStreamAsync());
        var session = await reader.NextAsync();
        var sessionId = Guid.Parse(session!.Json.GetProperty("session_id").GetString()!);
        (await reader.NextAsync())!.Event.Should().Be("sources");

        var stored = false;
        for (var i = 0; i < 30 && !stored; i++, await Task.Delay(50))
            stored = await api.ScalarAsync<long>("SELECT count(*) FROM chat_messages WHERE session_id = @id AND role = 'user'", new { id = sessionId }) == 1;

        stored.Should().BeTrue("the user turn is written while the model is still thinking");
        api.Upstream.Requests.Should().NotBeEmpty();
        (await reader.NextAsync())!.Event.Should().Be("text");
    }

    [Fact]
    public async Task Ndjson_WhenAccepted_CarriesTheSameEvents()
    {
        api.Upstream.Script = new FakeScript();

        var response = await api.SocketClient().SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "As lines" }, "application/x-ndjson"), HttpCompletionOption.ResponseHeadersRead);

        response.Content.Headers.ContentType!.MediaType.Should().Be("application/x-ndjson");
        var lines = (await response.Content.ReadAsStringAsync(SseReader.Deadline())).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        lines.Select(l => l.GetProperty("event").GetString()).Should().Equal(["session", "sources", "text", "text", "text", "text", "text", "usage", "done"]);
        lines[2].GetProperty("data").GetProperty("content").GetString().Should().Be("Hello");
        lines[^1].GetProperty("data").GetProperty("completed").GetBoolean().Should().BeTrue();
    }

    [Fact]
    public async Task TokensFormat_SendsPlainDataLines_SplittingMultiLineTokens_ThenDone()
    {
        api.Upstream.Script = new FakeScript { Chunks = ["first", " line\nsecond", " line"] };

        var (_, events) = await StreamAsync(new { query = "Tokens", stream_format = "tokens" });

        events.Select(e => e.Data).Should().Equal(["first", " line\nsecond", " line", "[DONE]"]);
        events.Should().OnlyContain(e => e.Event == "message");
    }

    [Fact]
    public async Task StreamFalse_AnswersWithOneJsonBody()
    {
        api.Upstream.Script = new FakeScript();

        var response = await api.SocketClient().PostAsJsonAsync("/v1/chat/stream", new { query = "All at once", stream = false });

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        body.GetProperty("message").GetProperty("content").GetString().Should().Be("Hello from the fake model.");
        body.GetProperty("message").GetProperty("role").GetString().Should().Be("assistant");
        body.GetProperty("usage").GetProperty("total_tokens").GetInt32().Should().Be(18);
        body.GetProperty("sources").GetArrayLength().Should().Be(0);
        body.GetProperty("cached").GetBoolean().Should().BeFalse();
        Guid.TryParse(body.GetProperty("session_id").GetString(), out _).Should().BeTrue();
    }

    [Fact]
    public async Task ContinuingASession_SendsItsHistoryToTheModel()
    {
        api.Upstream.Script = new FakeScript();
        var token = Tokens.For("history-user");
        var (_, first) = await StreamAsync(new { query = "My name is Ada" }, token);
        var sessionId = first[0].Json.GetProperty("session_id").GetString();

        var (_, second) = await StreamAsync(new { query = "What is my name?", session_id = sessionId }, token);

        second[0].Json.GetProperty("session_id").GetString().Should().Be(sessionId);
        var sent = api.Upstream.Requests.Last().Body["messages"]!.AsArray().Select(m => $"{m!["role"]}:{m["content"]}").ToList();
        sent.Should().Equal("user:My name is Ada", "assistant:Hello from the fake model.", "user:What is my name?");
        (await api.ScalarAsync<long>("SELECT count(*) FROM chat_messages WHERE session_id = @id::uuid", new { id = sessionId! })).Should().Be(4);
    }

    [Fact]
    public async Task SmallContextWindow_DropsTheOldestTurns_KeepsSystemPromptAndNewTurn()
    {
        api.Upstream.Script = new FakeScript();
        var history = Enumerable.Range(1, 10).Select(i => new { role = i % 2 == 1 ? "user" : "assistant", content = $"turn {i} " + new string('x', 40) }).ToArray();

        await StreamAsync(new { query = "newest question", history, model = "tiny-gpt", system_prompt = "Be brief." });

        var sent = api.Upstream.Requests.Last().Body["messages"]!.AsArray().Select(m => m!["content"]!.GetValue<string>()).ToList();
        sent.First().Should().Be("Be brief.");
        sent.Last().Should().Be("newest question");
        sent.Count.Should().BeInRange(3, 10, "some but not all of the ten earlier turns fit in 120 - 20 tokens");
        sent.Skip(1).SkipLast(1).Should().Equal(history.TakeLast(sent.Count - 2).Select(h => h.content), "the oldest turns go first");
    }

    [Fact]
    public async Task Heartbeat_IsSentAsACommentWhileWaitingForTheModel()
    {
        api.Upstream.Script = new FakeScript { Chunks = ["finally"], Delay = TimeSpan.FromMilliseconds(1500) };
        var fast = new ChatApiFactory();
        fast.With("Chat:HeartbeatSeconds", "0.2");
        await fast.InitializeAsync();
        try
        {
            fast.Upstream.Script = api.Upstream.Script;

            var response = await fast.SocketClient().SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "Wait" }), HttpCompletionOption.ResponseHeadersRead);
            var reader = new SseReader(await response.Content.ReadAsStreamAsync());
            var events = await reader.ReadAllAsync();

            reader.Comments.Should().Contain(": ping");
            events.Select(e => e.Event).Should().Contain("done");
        }
        finally
        {
            await fast.DisposeAsync();
        }
    }
}
