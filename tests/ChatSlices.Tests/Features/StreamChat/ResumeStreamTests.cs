using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.StreamChat;

/// <summary>A reader that loses its connection resumes the reply's stream with Last-Event-ID; the stop button; the grace.</summary>
public class ResumeStreamTests(ResumeStreamTests.Resumable api) : IClassFixture<ResumeStreamTests.Resumable>
{
    public sealed class Resumable : ChatApiFactory
    {
        public Resumable() => With("Chat:ResumeGraceSeconds", "30");
    }

    private static readonly string[] Words = Enumerable.Range(0, 12).Select(i => $"w{i} ").ToArray();

    private static CancellationToken Soon => new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token;

    /// <summary>Starts a stream and reads it up to its third text event; the connection is left open.</summary>
    private static async Task<(HttpClient Client, HttpResponseMessage Response, List<SseEvent> Read)> StartAsync(ChatApiFactory api, string user, int words = 12)
    {
        api.Upstream.Script = new FakeScript { Chunks = Words.Concat(Enumerable.Range(12, words - 12).Select(i => $"w{i} ")).ToArray(), Delay = TimeSpan.FromMilliseconds(100) };
        var client = api.SocketClient(Tokens.For(user));
        var response = await client.SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "Count for me" }), HttpCompletionOption.ResponseHeadersRead);
        var reader = new SseReader(await response.Content.ReadAsStreamAsync());
        var read = new List<SseEvent>();
        while (read.Count(e => e.Event == "text") < 3) read.Add((await reader.NextAsync(Soon))!);
        return (client, response, read);
    }

    private static string MessageId(List<SseEvent> events) => events.First(e => e.Event == "session").Json.Str("message_id");

    private static string Text(IEnumerable<SseEvent> events) => string.Concat(events.Where(e => e.Event == "text").Select(e => e.Json.Str("content")));

    private async Task<string?> StoredAsync(string messageId)
    {
        string? stored = null;
        for (var i = 0; i < 100 && stored is null; i++, await Task.Delay(100))
            stored = await api.ScalarAsync<string>("SELECT status || '|' || content FROM chat_messages WHERE id = @id::uuid", new { id = messageId });
        return stored;
    }

    [Fact]
    public async Task AReaderCutAfterThreeTexts_ResumesWithLastEventId_AndGetsTheRestOnce()
    {
        var (client, response, read) = await StartAsync(api, "resumer");
        response.Dispose(); // the connection drops (a phone changing networks)
        client.Dispose();

        var again = api.SocketClient(Tokens.For("resumer"));
        var resume = new HttpRequestMessage(HttpMethod.Get, $"/v1/chat/streams/{MessageId(read)}");
        resume.Headers.Add("Last-Event-ID", read[^1].Id);
        var resumed = await again.SendAsync(resume, HttpCompletionOption.ResponseHeadersRead);
        var rest = await new SseReader(await resumed.Content.ReadAsStreamAsync()).ReadAllAsync(Soon);

        resumed.StatusCode.Should().Be(HttpStatusCode.OK);
        var ids = read.Concat(rest).Select(e => long.Parse(e.Id!)).ToList();
        ids.Should().BeInAscendingOrder().And.OnlyHaveUniqueItems().And.Equal(Enumerable.Range(1, ids.Count).Select(i => (long)i));
        (Text(read) + Text(rest)).Should().Be(string.Concat(Words));
        rest[^1].Event.Should().Be("done");
        rest[^1].Json.GetProperty("completed").GetBoolean().Should().BeTrue();
        (await StoredAsync(MessageId(read))).Should().Be("complete|" + string.Concat(Words));
    }

    [Fact]
    public async Task AFinishedStream_IsReplayedWhole_AsNdjson_WithTheQueryParameter()
    {
        api.Upstream.Script = new FakeScript();
        var client = api.SocketClient(Tokens.For("replayer"));
        var first = await new SseReader(await (await client.SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "Hello" }),
            HttpCompletionOption.ResponseHeadersRead)).Content.ReadAsStreamAsync()).ReadAllAsync(Soon);

        var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/chat/streams/{MessageId(first)}?last_event_id=0");
        request.Headers.Accept.ParseAdd("application/x-ndjson");
        var replay = await client.SendAsync(request);
        var lines = (await replay.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement).ToList();

        replay.Content.Headers.ContentType!.MediaType.Should().Be("application/x-ndjson");
        lines.Select(l => l.Str("event")).Should().Equal(first.Select(e => e.Event));
        string.Concat(lines.Where(l => l.Str("event") == "text").Select(l => l.GetProperty("data").Str("content"))).Should().Be(Text(first));
    }

    [Fact]
    public async Task TheStopButton_EndsTheStreamAtOnce_AndStoresWhatWasSaid()
    {
        var before = api.Upstream.Requests.Count;
        var (client, response, read) = await StartAsync(api, "stopper");

        var stop = await client.PostAsync($"/v1/chat/streams/{MessageId(read)}/cancel", null);
        var rest = await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync(Soon);

        stop.StatusCode.Should().Be(HttpStatusCode.NoContent);
        rest[^1].Event.Should().Be("done");
        rest[^1].Json.GetProperty("completed").GetBoolean().Should().BeFalse();
        await api.Upstream.Requests.Skip(before).Single().Aborted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        (await StoredAsync(MessageId(read))).Should().StartWith("interrupted|w0 w1 w2 ");
    }

    [Fact]
    public async Task AnotherUsersStream_IsNotFound_ToResumeOrToStop()
    {
        var (_, response, read) = await StartAsync(api, "owner-of-stream");
        var intruder = api.SocketClient(Tokens.For("intruder"));

        await (await intruder.GetAsync($"/v1/chat/streams/{MessageId(read)}")).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        await (await intruder.PostAsync($"/v1/chat/streams/{MessageId(read)}/cancel", null)).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        await (await intruder.GetAsync($"/v1/chat/streams/{Guid.NewGuid()}")).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        var rest = await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync(Soon);
        rest[^1].Json.GetProperty("completed").GetBoolean().Should().BeTrue("the owner's stream went on untouched");
    }

    [Fact]
    public async Task NobodyResumingWithinTheGrace_CancelsTheModelCall_AndStoresTheReplyAsInterrupted()
    {
        await using var shortGrace = new ChatApiFactory();
        shortGrace.With("Chat:ResumeGraceSeconds", "1");
        await shortGrace.InitializeAsync();
        var (client, response, read) = await StartAsync(shortGrace, "leaver", words: 100); // ten seconds of reply: the grace ends first
        var upstream = shortGrace.Upstream.Requests.Single();

        response.Dispose();
        client.Dispose();

        await upstream.Aborted.Task.WaitAsync(TimeSpan.FromSeconds(15));
        string? stored = null;
        for (var i = 0; i < 100 && stored is null; i++, await Task.Delay(100))
            stored = await shortGrace.ScalarAsync<string>("SELECT status FROM chat_messages WHERE id = @id::uuid", new { id = MessageId(read) });
        stored.Should().Be("interrupted");
    }

    [Fact]
    public async Task ATurnWhoseReaderLeft_StillHoldsItsConcurrentStreamsPermit_UntilItEnds()
    {
        await using var oneAtATime = new ChatApiFactory();
        oneAtATime.With("Chat:ResumeGraceSeconds", "30").With("RateLimits:Tiers:free:ConcurrentStreams", "1");
        await oneAtATime.InitializeAsync();
        var (client, response, read) = await StartAsync(oneAtATime, "one-at-a-time", words: 100);
        response.Dispose(); // gone, but the reply goes on for the grace
        client.Dispose();

        var again = oneAtATime.SocketClient(Tokens.For("one-at-a-time"));
        var meanwhile = await again.PostAsJsonAsync("/v1/chat/stream", new { query = "Another one", stream = false });
        (await again.PostAsync($"/v1/chat/streams/{MessageId(read)}/cancel", null)).StatusCode.Should().Be(HttpStatusCode.NoContent);
        HttpStatusCode after = 0;
        for (var i = 0; i < 50 && after != HttpStatusCode.OK; i++, await Task.Delay(100))
            after = (await again.PostAsJsonAsync("/v1/chat/stream", new { query = "Now one", stream = false })).StatusCode;

        await meanwhile.ShouldBeProblemAsync(HttpStatusCode.TooManyRequests);
        after.Should().Be(HttpStatusCode.OK, "the stopped turn gave its permit back");
    }
}
