using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using ChatSlices.Tests.Support;
using Npgsql;

namespace ChatSlices.Tests.Reliability;

/// <summary>PostgreSQL goes away in the middle of a stream, then comes back: the service says so, then recovers by itself.</summary>
public class DatabaseOutageTests : IAsyncLifetime
{
    private ChatApiFactory _api = null!;
    private TcpProxy _proxy = null!;
    private string _database = "";

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateMigratedAsync();
        var direct = new NpgsqlConnectionStringBuilder(_database);
        _proxy = new TcpProxy(direct.Host!, direct.Port);
        var proxied = new NpgsqlConnectionStringBuilder(_database) { Host = "127.0.0.1", Port = _proxy.Port, Timeout = 3 };
        _api = new ChatApiFactory();
        _api.With("ConnectionStrings:Postgres", proxied.ConnectionString);
        await _api.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        await _proxy.DisposeAsync();
        await TestDatabase.DropAsync(_database);
    }

    [Fact]
    public async Task DatabaseStoppedMidStream_EndsTheStreamWithAnError_Then503s_ThenRecoversWithoutARestart()
    {
        _api.Upstream.Script = new FakeScript { Chunks = ["one", " two", " three", " four"], Delay = TimeSpan.FromMilliseconds(300) };
        var client = _api.SocketClient(Tokens.For("outage-user"));
        var response = await client.SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "Keep talking" }), HttpCompletionOption.ResponseHeadersRead);
        var reader = new SseReader(await response.Content.ReadAsStreamAsync());
        var sessionId = (await reader.NextAsync())!.Json.Str("session_id");
        while ((await reader.NextAsync())!.Event != "text") { }

        _proxy.Available = false;
        var cut = Stopwatch.StartNew();
        var rest = await reader.ReadAllAsync();

        cut.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(5));
        rest.Select(e => e.Event).Should().EndWith(["error", "done"]);
        rest[^2].Json.Str("code").Should().Be("storage_failed");
        rest[^1].Json.GetProperty("completed").GetBoolean().Should().BeFalse();
        (await client.GetAsync("/health/ready")).StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        await (await client.GetAsync("/v1/chat/history")).ShouldBeProblemAsync(HttpStatusCode.ServiceUnavailable);

        _proxy.Available = true;
        var recovered = Stopwatch.StartNew();
        while ((await client.GetAsync("/health/ready")).StatusCode != HttpStatusCode.OK && recovered.Elapsed < TimeSpan.FromSeconds(30))
            await Task.Delay(200);

        recovered.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(30));
        _api.Upstream.Script = new FakeScript();
        var next = await client.PostAsJsonAsync("/v1/chat/stream", new { query = "Are you back?", session_id = sessionId, stream = false });
        next.StatusCode.Should().Be(HttpStatusCode.OK);
        await using var conn = new NpgsqlConnection(_database);
        await conn.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM chat_messages WHERE session_id = @id::uuid AND role = 'user'", conn);
        count.Parameters.AddWithValue("id", sessionId);
        ((long)(await count.ExecuteScalarAsync())!).Should().Be(2, "the user turn was stored before the outage, and the next one after it");
    }

    [Fact]
    public async Task DatabaseRestartedBetweenTurns_TheNextTurnsSucceedAtTheFirstTry()
    {
        _api.Upstream.Script = new FakeScript();
        var client = _api.SocketClient(Tokens.For("restart-user"));
        var first = await client.PostAsJsonAsync("/v1/chat/stream", new { query = "Before the restart", stream = false });
        first.StatusCode.Should().Be(HttpStatusCode.OK);
        var sessionId = (await first.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).Str("session_id");

        // Every pooled connection dies, as a restart of PostgreSQL does to them; new ones connect as before.
        _proxy.Available = false;
        _proxy.Available = true;

        var plain = await client.PostAsJsonAsync("/v1/chat/stream", new { query = "After the restart", session_id = sessionId, stream = false });
        plain.StatusCode.Should().Be(HttpStatusCode.OK, await plain.Content.ReadAsStringAsync());
        var streamed = await client.SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "And streamed", session_id = sessionId }), HttpCompletionOption.ResponseHeadersRead);
        var events = await new SseReader(await streamed.Content.ReadAsStreamAsync()).ReadAllAsync();
        events[^1].Json.GetProperty("completed").GetBoolean().Should().BeTrue(string.Join(" ", events.Select(e => e.Data)));
        await using var conn = new NpgsqlConnection(_database);
        await conn.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM chat_messages WHERE session_id = @id::uuid AND status = 'complete'", conn);
        count.Parameters.AddWithValue("id", sessionId);
        ((long)(await count.ExecuteScalarAsync())!).Should().Be(6, "three turns and their replies, all stored");
    }
}
