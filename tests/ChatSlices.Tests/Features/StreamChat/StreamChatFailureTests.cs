using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.StreamChat;

public class StreamChatFailureTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    private async Task<List<SseEvent>> StreamAsync(object body)
    {
        var response = await api.SocketClient().SendAsync(ChatApiFactory.Post("/v1/chat/stream", body), HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        return await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync();
    }

    /// <summary>
    /// Streams until <paramref name="texts"/> text events have come out of the service, then lets the fake upstream cut the
    /// connection (<see cref="FakeScript.Cut"/>), and reads the rest.
    /// </summary>
    private async Task<List<SseEvent>> StreamCutAfterAsync(object body, int texts)
    {
        var script = api.Upstream.Script;
        var response = await api.SocketClient().SendAsync(ChatApiFactory.Post("/v1/chat/stream", body), HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var reader = new SseReader(await response.Content.ReadAsStreamAsync());
        var events = new List<SseEvent>();
        while (events.Count(e => e.Event == "text") < texts && await reader.NextAsync() is { } e) events.Add(e);
        script.Cut.SetResult();
        events.AddRange(await reader.ReadAllAsync());
        return events;
    }

    private Task<string?> StoredReplyAsync(string sessionId) =>
        api.ScalarAsync<string>("SELECT status || '|' || content || '|' || coalesce(error, '') FROM chat_messages WHERE session_id = @id::uuid AND role = 'assistant'", new { id = sessionId });

    [Fact]
    public async Task ClientAbort_CancelsTheUpstreamAtOnce_AndStoresThePartialReplyAsInterrupted()
    {
        // Two chunks, then the fake sends nothing more until it is cancelled: the upstream call can only end because the
        // client left, never because a next chunk failed to reach the client.
        api.Upstream.Script = new FakeScript { Chunks = Enumerable.Range(0, 50).Select(i => $"w{i} ").ToArray(), StallAfterChunks = 2 };
        var requestsBefore = api.Upstream.Requests.Count;
        using var client = api.SocketClient();
        var response = await client.SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "Tell me a long story" }), HttpCompletionOption.ResponseHeadersRead);
        var reader = new SseReader(await response.Content.ReadAsStreamAsync());
        var sessionId = (await reader.NextAsync())!.Json.GetProperty("session_id").GetString()!;
        while ((await reader.NextAsync())!.Event != "text") { }
        (await reader.NextAsync())!.Event.Should().Be("text");

        response.Dispose(); // the client goes away mid-stream
        client.Dispose();

        var upstream = api.Upstream.Requests.Skip(requestsBefore).Single();
        await upstream.Aborted.Task.WaitAsync(TimeSpan.FromSeconds(30)); // generous for 2 shared cores: without the cancel it never comes
        upstream.ChunksWrittenAt.Should().HaveCount(2, "the upstream call is cancelled when the client leaves, not at a next chunk");

        string? stored = null;
        for (var i = 0; i < 50 && stored is null; i++, await Task.Delay(100)) stored = await StoredReplyAsync(sessionId);
        stored.Should().StartWith("interrupted|w0 w1 ");
    }

    [Fact]
    public async Task UpstreamCutMidStream_SendsErrorThenDoneNotCompleted_AndStoresTheReplyAsError()
    {
        api.Upstream.Script = new FakeScript { Chunks = ["a", "b", "c", "d", "e"], FailAfterChunks = 3 };

        var events = await StreamCutAfterAsync(new { query = "Break please" }, texts: 3);

        events.Select(e => e.Event).Should().Equal(["session", "sources", "text", "text", "text", "error", "done"]);
        events[^2].Json.GetProperty("code").GetString().Should().Be("provider_connection_lost");
        events[^2].Json.GetProperty("message").GetString().Should().NotBeNullOrWhiteSpace();
        events[^1].Json.GetProperty("completed").GetBoolean().Should().BeFalse();
        var stored = await StoredReplyAsync(events[0].Json.GetProperty("session_id").GetString()!);
        stored.Should().StartWith("error|abc|").And.Contain("broke off");
    }

    [Fact]
    public async Task UpstreamCutInsideAChunk_SendsErrorThenDoneNotCompleted_AndKeepsTheWholeChunksBefore()
    {
        api.Upstream.Script = new FakeScript { Chunks = ["one ", "two ", "three ", "four"], FailAfterChunks = 2, CutMidChunk = true };

        var events = await StreamCutAfterAsync(new { query = "Break inside a chunk" }, texts: 2);

        events.Select(e => e.Event).Should().Equal(["session", "sources", "text", "text", "error", "done"]);
        events[^2].Json.Str("code").Should().StartWith("provider_");
        events[^1].Json.GetProperty("completed").GetBoolean().Should().BeFalse();
        (await StoredReplyAsync(events[0].Json.Str("session_id"))).Should().StartWith("error|one two |");
    }

    [Theory]
    [InlineData(429, "provider_rate_limited")]
    [InlineData(500, "provider_unavailable")]
    [InlineData(401, "provider_auth_failed")]
    public async Task UpstreamRefusal_BecomesAnErrorEvent_WithAClearCode(int status, string code)
    {
        api.Upstream.Script = new FakeScript { Status = status };

        var events = await StreamAsync(new { query = "Refuse me" });

        events.Select(e => e.Event).Should().Equal(["session", "sources", "error", "done"]);
        events[2].Json.GetProperty("code").GetString().Should().Be(code);
        events[2].Json.GetProperty("message").GetString().Should().NotContain("fake failure", "the provider's own text is not passed through");
        (await StoredReplyAsync(events[0].Json.GetProperty("session_id").GetString()!)).Should().StartWith("error||");
    }

    [Fact]
    public async Task UpstreamSendingGarbage_EndsTheStreamWithAnError_AndKeepsWhatCameBefore()
    {
        api.Upstream.Script = new FakeScript { Garbage = true };

        var events = await StreamAsync(new { query = "Say something odd" });

        events.Select(e => e.Event).Should().Equal(["session", "sources", "text", "error", "done"]);
        events[3].Json.Str("code").Should().StartWith("provider_");
        events[^1].Json.GetProperty("completed").GetBoolean().Should().BeFalse();
        (await StoredReplyAsync(events[0].Json.Str("session_id"))).Should().StartWith("error|fine so far|");
    }

    [Fact]
    public async Task UpstreamThatNeverAnswers_TimesOutWithAnErrorEvent()
    {
        api.Upstream.Script = new FakeScript { Hang = true };

        var events = await StreamAsync(new { query = "Hello?" });

        events.Select(e => e.Event).Should().Equal(["session", "sources", "error", "done"]);
        events[2].Json.GetProperty("code").GetString().Should().Be("provider_timeout");
    }

    [Fact]
    public async Task ReplySlowerThanTheReplyTimeout_EndsWithATimeoutError_AndKeepsWhatCame()
    {
        // The first token comes after the whole reply's timeout (but within the first-token timeout): the reply is cut there.
        var slow = new ChatApiFactory();
        slow.With("AI:ReplyTimeoutSeconds", "0.5");
        await slow.InitializeAsync();
        try
        {
            slow.Upstream.Script = new FakeScript { Chunks = ["first ", "second ", "third"], Delay = TimeSpan.FromMilliseconds(700) };
            var response = await slow.SocketClient().SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "Take your time" }), HttpCompletionOption.ResponseHeadersRead);
            var events = await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync();

            events.Select(e => e.Event).Should().Equal(["session", "sources", "text", "error", "done"]);
            events[3].Json.Str("code").Should().Be("provider_timeout");
            events[^1].Json.GetProperty("completed").GetBoolean().Should().BeFalse();
            var stored = await slow.ScalarAsync<string>(
                "SELECT status || '|' || content FROM chat_messages WHERE session_id = @id::uuid AND role = 'assistant'", new { id = events[0].Json.Str("session_id") });
            stored.Should().Be("error|first ");
        }
        finally
        {
            await slow.DisposeAsync();
        }
    }

    [Fact]
    public async Task StreamFalse_WithAFailingUpstream_IsAProblemWithTheProviderCode()
    {
        api.Upstream.Script = new FakeScript { Status = 429 };

        var response = await api.SocketClient().PostAsJsonAsync("/v1/chat/stream", new { query = "Hi", stream = false });

        var problem = await response.ShouldBeProblemAsync(HttpStatusCode.ServiceUnavailable);
        problem.GetProperty("code").GetString().Should().Be("provider_rate_limited");
    }

    [Fact]
    public async Task LocalModel_AnswersOffline_AndSaysItIsTheOfflineModel()
    {
        var events = await StreamAsync(new { query = "What is pgvector?", model = "local-chat" });

        var text = string.Concat(events.Where(e => e.Event == "text").Select(e => e.Json.GetProperty("content").GetString()));
        text.Should().StartWith("[offline local model]").And.Contain("What is pgvector?");
        events.Single(e => e.Event == "usage").Json.GetProperty("estimated").GetBoolean().Should().BeTrue();
        events[^1].Json.GetProperty("completed").GetBoolean().Should().BeTrue();
    }
}
