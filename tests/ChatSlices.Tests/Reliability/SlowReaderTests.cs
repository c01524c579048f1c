using System.Diagnostics;
using System.Net.Sockets;
using ChatSlices.Tests.Support;
using Xunit.Abstractions;

namespace ChatSlices.Tests.Reliability;

/// <summary>
/// A client that reads very slowly holds the model back (the service pulls from the upstream only as fast as the
/// client takes the events, so its memory stays bounded) and still gets every chunk once it reads on; a client that
/// never reads again is let go, and its reply is stored as interrupted.
/// </summary>
public class SlowReaderTests(ITestOutputHelper output)
{
    // 24 MiB in all: several times what the sockets on the way can hold (up to 4 MiB in each send buffer, and what
    // the receive buffers have grown to), so that a service that buffered the reply would stand out.
    private const int ChunkCount = 6000, ChunkChars = 4096;

    /// <summary>Largish chunks, each numbered, so that a lost, reordered or torn one shows.</summary>
    private static readonly string[] Chunks = Enumerable.Range(0, ChunkCount).Select(i => $"[{i:D5}]" + new string((char)('a' + i % 26), ChunkChars - 7)).ToArray();

    [Fact]
    public async Task ClientThatStopsReading_StallsTheUpstream_ThenGetsEveryChunkInOrder_AndTheReplyIsStoredWhole()
    {
        await WithServiceAsync([], async api =>
        {
            using var client = SmallWindowClient(api);
            using var response = await client.SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "Pour it all out" }), HttpCompletionOption.ResponseHeadersRead);
            var reader = new SseReader(await response.Content.ReadAsStreamAsync());
            var events = new List<SseEvent>();
            while (events.Count(e => e.Event == "text") < 3) events.Add((await reader.NextAsync())!);

            var stalledAt = await UpstreamProgressOnceStillAsync(api.Upstream);
            output.WriteLine($"While the client did not read, the upstream got to chunk {stalledAt} of {ChunkCount} ({stalledAt * ChunkChars / 1024.0 / 1024:0.0} of {ChunkCount * ChunkChars / 1024 / 1024} MiB)");
            stalledAt.Should().BeLessThan(ChunkCount / 2, "the service must not drain the model into memory while the client does not read");

            events.AddRange(await reader.ReadAllAsync());
            events.Where(e => e.Event == "text").Select(e => e.Json.Str("content")).Should().Equal(Chunks);
            events[^1].Event.Should().Be("done");
            events[^1].Json.GetProperty("completed").GetBoolean().Should().BeTrue();
            var sessionId = events[0].Json.Str("session_id");
            (await api.ScalarAsync<string>("SELECT status FROM chat_messages WHERE session_id = @id::uuid AND role = 'assistant'", new { id = sessionId })).Should().Be("complete");
            (await api.ScalarAsync<bool>("SELECT content = @whole FROM chat_messages WHERE session_id = @id::uuid AND role = 'assistant'", new { id = sessionId, whole = string.Concat(Chunks) }))
                .Should().BeTrue("the stored reply is the whole of it");
        });
    }

    [Fact]
    public async Task ClientThatNeverReadsAgain_IsDisconnectedAfterTheWriteTimeout_AndItsReplyIsStoredAsInterrupted()
    {
        await WithServiceAsync(["Chat:StreamWriteTimeoutSeconds", "1"], async api =>
        {
            using var client = SmallWindowClient(api);
            using var response = await client.SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "Pour it all out" }), HttpCompletionOption.ResponseHeadersRead);
            var reader = new SseReader(await response.Content.ReadAsStreamAsync());
            var sessionId = (await reader.NextAsync())!.Json.Str("session_id");
            while ((await reader.NextAsync())!.Event != "text") { }

            var upstream = api.Upstream.Requests.Single();
            var released = await upstream.Aborted.Task.WaitAsync(TimeSpan.FromSeconds(20));
            output.WriteLine($"The model call was cancelled {Stopwatch.GetElapsedTime(upstream.StartedAt, released).TotalSeconds:0.0} s after it started, at chunk {upstream.ChunksWrittenAt.Count} of {ChunkCount}");

            var stored = await StoredReplyAsync(api, sessionId);
            stored.Status.Should().Be("interrupted");
            stored.Content.Should().NotBeEmpty();
            string.Concat(Chunks).StartsWith(stored.Content, StringComparison.Ordinal).Should().BeTrue("what was stored is what had been sent, in order");
            var rest = async () => await reader.ReadAllAsync();
            await rest.Should().ThrowAsync<IOException>("the service broke the connection off without a done event");
        });
    }

    /// <summary>A service of its own for each test (they need different settings), its upstream ready with <see cref="Chunks"/>.</summary>
    private static async Task WithServiceAsync(string[] setting, Func<ChatApiFactory, Task> test)
    {
        var api = new ChatApiFactory();
        if (setting is [var key, var value]) api.With(key, value);
        await api.InitializeAsync();
        try
        {
            api.Upstream.Script = new FakeScript { Chunks = Chunks, CompletionTokens = ChunkCount };
            await test(api);
        }
        finally
        {
            await api.DisposeAsync();
        }
    }

    /// <summary>How many chunks the fake model had written when it stopped making progress (unchanged for a second).</summary>
    private static async Task<int> UpstreamProgressOnceStillAsync(FakeUpstream upstream)
    {
        var request = upstream.Requests.Single();
        var waited = Stopwatch.StartNew();
        var last = -1;
        while (waited.Elapsed < TimeSpan.FromSeconds(30))
        {
            var now = request.ChunksWrittenAt.Count;
            if (now == last) return now;
            last = now;
            await Task.Delay(1000);
        }
        throw new TimeoutException($"The upstream kept going: {last} chunks after 30 s");
    }

    /// <summary>The assistant row, once it is there: it is written as the run ends, just after the model call stops.</summary>
    private static async Task<(string Status, string Content)> StoredReplyAsync(ChatApiFactory api, string sessionId)
    {
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (await api.ScalarAsync<string>("SELECT status || ':' || content FROM chat_messages WHERE session_id = @id::uuid AND role = 'assistant'", new { id = sessionId }) is { } row)
                return (row[..row.IndexOf(':')], row[(row.IndexOf(':') + 1)..]);
            await Task.Delay(100);
        }
        throw new TimeoutException("No reply was stored");
    }

    /// <summary>A client over a socket with a 4 KiB receive buffer, so that not reading soon closes the TCP window.</summary>
    private static HttpClient SmallWindowClient(ChatApiFactory api)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveBufferSize = 4096 };
                await socket.ConnectAsync(context.DnsEndPoint, ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        return new HttpClient(handler) { BaseAddress = api.ServerAddress, Timeout = TimeSpan.FromSeconds(120) };
    }
}
