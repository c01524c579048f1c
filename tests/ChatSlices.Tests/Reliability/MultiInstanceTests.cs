using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using ChatSlices.Tests.Support;
using Npgsql;
using Xunit.Abstractions;

namespace ChatSlices.Tests.Reliability;

/// <summary>
/// Two real service processes sharing PostgreSQL and a redis-server of the test's own, behind nginx (round robin):
/// a stream resumed through the other instance, the per-minute limit held across both, an instance killed mid-stream,
/// and Redis lost and back.
/// </summary>
public class MultiInstanceTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int LeaseSeconds = 2;

    private readonly FakeUpstream _upstream = new();
    private RedisServer _redis = null!;
    private string _database = "";
    private ServiceProcess _a = null!;
    private ServiceProcess _b = null!;
    private Gateway _gateway = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        _database = await TestDatabase.CreateMigratedAsync();
        var settings = ServiceProcess.WithFakeModel(_database, _upstream.BaseUrl);
        settings["Redis:Connection"] = _redis.Connection;
        settings["Chat:InstanceLeaseSeconds"] = LeaseSeconds.ToString();
        settings["Http:DrainSeconds"] = "20";
        settings["RateLimits:Tiers:free:RequestsPerMinute"] = "60";
        settings["RateLimits:Tiers:free:ConcurrentStreams"] = "10";
        var started = await Task.WhenAll(ServiceProcess.StartAsync(settings), ServiceProcess.StartAsync(settings));
        (_a, _b) = (started[0], started[1]);
        _gateway = await Gateway.StartAsync(_a.Address, _b.Address);
    }

    public async Task DisposeAsync()
    {
        foreach (var service in new[] { _a, _b })
        {
            if (service is null) continue;
            output.WriteLine(service.Output);
            await service.DisposeAsync();
        }
        if (_gateway is not null) await _gateway.DisposeAsync();
        await _redis.DisposeAsync();
        await _upstream.DisposeAsync();
        await TestDatabase.DropAsync(_database);
    }

    [Fact]
    public async Task AStreamCutAfterThreeTexts_ResumedThroughTheOtherInstance_GivesTheWholeReplyWithNoEventTwice()
    {
        _upstream.Script = FakeScript.Numbered(30, TimeSpan.FromMilliseconds(40));
        var token = Tokens.For("resumer-" + Guid.NewGuid().ToString("N")[..8]);
        var seen = new List<SseEvent>();
        Guid messageId;
        using (var clientA = Authorized(_a.Client(), token))
        using (var response = await clientA.SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "Count for me" }), HttpCompletionOption.ResponseHeadersRead))
        {
            response.EnsureSuccessStatusCode();
            var reader = new SseReader(await response.Content.ReadAsStreamAsync());
            while (seen.Count(e => e.Event == "text") < 3 && await reader.NextAsync() is { } e) seen.Add(e);
            messageId = Guid.Parse(seen.First(e => e.Event == "session").Json.Str("message_id"));
        } // the connection is cut here

        using var clientB = Authorized(_b.Client(), token);
        using var resume = new HttpRequestMessage(HttpMethod.Get, $"/v1/chat/streams/{messageId}");
        resume.Headers.Add("Last-Event-ID", seen[^1].Id);
        using var resumed = await clientB.SendAsync(resume, HttpCompletionOption.ResponseHeadersRead);
        resumed.StatusCode.Should().Be(HttpStatusCode.OK);
        var rest = new SseReader(await resumed.Content.ReadAsStreamAsync());
        while (await rest.NextAsync() is { } e) seen.Add(e);

        seen.Select(e => long.Parse(e.Id!)).Should().Equal(Enumerable.Range(1, seen.Count).Select(i => (long)i), "every event once, in order");
        string.Concat(seen.Where(e => e.Event == "text").Select(e => e.Json.Str("content")))
            .Should().Be(string.Concat(_upstream.Script.Chunks));
        seen[^1].Event.Should().Be("done");
        seen[^1].Json.GetProperty("completed").GetBoolean().Should().BeTrue("the reader came back within the grace");
        (await ReplyAsync(messageId)).Should().Be(("complete", string.Concat(_upstream.Script.Chunks)));
    }

    [Fact]
    public async Task TheStopButtonThroughTheOtherInstance_StopsTheStream_AndOnlyForItsOwner()
    {
        _upstream.Script = FakeScript.Numbered(600, TimeSpan.FromMilliseconds(50));
        var token = Tokens.For("stopper-" + Guid.NewGuid().ToString("N")[..8]);
        using var clientA = Authorized(_a.Client(), token);
        using var response = await clientA.SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "Go on and on" }), HttpCompletionOption.ResponseHeadersRead);
        var reader = new SseReader(await response.Content.ReadAsStreamAsync());
        var seen = new List<SseEvent>();
        while (seen.Count(e => e.Event == "text") < 2 && await reader.NextAsync() is { } e) seen.Add(e);
        var messageId = Guid.Parse(seen.First(e => e.Event == "session").Json.Str("message_id"));

        using var stranger = Authorized(_b.Client(), Tokens.For("stranger-" + Guid.NewGuid().ToString("N")[..8]));
        (await stranger.PostAsync($"/v1/chat/streams/{messageId}/cancel", null)).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await stranger.GetAsync($"/v1/chat/streams/{messageId}")).StatusCode.Should().Be(HttpStatusCode.NotFound);
        using var clientB = Authorized(_b.Client(), token);
        (await clientB.PostAsync($"/v1/chat/streams/{messageId}/cancel", null)).StatusCode.Should().Be(HttpStatusCode.NoContent);

        while (await reader.NextAsync() is { } e) seen.Add(e);
        seen[^1].Event.Should().Be("done");
        seen[^1].Json.GetProperty("completed").GetBoolean().Should().BeFalse("the stop button ended it");
        seen.Count(e => e.Event == "text").Should().BeLessThan(100, "it stopped at once, not after the reply");
        var told = string.Concat(seen.Where(e => e.Event == "text").Select(e => e.Json.Str("content")));
        (await ReplyAsync(messageId)).Should().Be(("interrupted", told));
    }

    [Fact]
    public async Task AFreeTierUsersBurst_SpreadOverBothInstances_IsRefusedPastTheTiersMinute()
    {
        using var client = Authorized(_gateway.Client(), Tokens.For("counted-" + Guid.NewGuid().ToString("N")[..8], tier: "free"));
        (await client.GetAsync("/v1/chat/history")).StatusCode.Should().Be(HttpStatusCode.OK); // connections warm
        var started = Stopwatch.StartNew();
        var statuses = await Task.WhenAll(Enumerable.Range(0, 70).Select(async _ => (await client.GetAsync("/v1/chat/history")).StatusCode));
        var refilled = (int)Math.Ceiling(started.Elapsed.TotalSeconds); // the bucket refills one request a second

        var served = statuses.Count(s => s == HttpStatusCode.OK);
        output.WriteLine($"{served} of 70 served in {started.ElapsedMilliseconds} ms");
        served.Should().BeInRange(59, 59 + refilled, "60 a minute across both instances (one spent warming up), not 60 each");
        statuses.Where(s => s != HttpStatusCode.OK).Should().OnlyContain(s => s == HttpStatusCode.TooManyRequests);
        using var direct = Authorized(_a.Client(), Tokens.For("other-" + Guid.NewGuid().ToString("N")[..8], tier: "free"));
        (await direct.GetAsync("/v1/chat/history")).StatusCode.Should().Be(HttpStatusCode.OK, "the budget is the caller's own");
    }

    [Fact]
    public async Task TheOwningInstanceKilledMidStream_TheReplyIsStoredInterrupted_AndAResumeGetsInstanceLost()
    {
        _upstream.Script = FakeScript.Numbered(600, TimeSpan.FromMilliseconds(50));
        var token = Tokens.For("victim-" + Guid.NewGuid().ToString("N")[..8]);
        var seen = new List<SseEvent>();
        using (var clientA = Authorized(_a.Client(), token))
        using (var response = await clientA.SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "A long one" }), HttpCompletionOption.ResponseHeadersRead))
        {
            var reader = new SseReader(await response.Content.ReadAsStreamAsync());
            while (seen.Count(e => e.Event == "text") < 3 && await reader.NextAsync() is { } e) seen.Add(e);
            await Task.Delay(200); // a few more chunks shared
            await _a.KillAsync();
        }
        var messageId = Guid.Parse(seen.First(e => e.Event == "session").Json.Str("message_id"));

        var deadline = DateTime.UtcNow.AddSeconds(LeaseSeconds * 2 + 5);
        (string Status, string Content)? stored = null;
        while (DateTime.UtcNow < deadline && (stored = await ReplyAsync(messageId)) is null) await Task.Delay(200);
        stored.Should().NotBeNull($"the reply is stored within twice the lease ({LeaseSeconds} s) and 5 s");
        stored!.Value.Status.Should().Be("interrupted");
        var toldBeforeKill = string.Concat(seen.Where(e => e.Event == "text").Select(e => e.Json.Str("content")));
        stored.Value.Content.Should().StartWith(toldBeforeKill, "the text shared so far is kept");

        using var clientB = Authorized(_b.Client(), token);
        using var resume = new HttpRequestMessage(HttpMethod.Get, $"/v1/chat/streams/{messageId}");
        resume.Headers.Add("Last-Event-ID", seen[^1].Id);
        using var resumed = await clientB.SendAsync(resume, HttpCompletionOption.ResponseHeadersRead);
        resumed.StatusCode.Should().Be(HttpStatusCode.OK);
        var rest = new List<SseEvent>();
        var restReader = new SseReader(await resumed.Content.ReadAsStreamAsync());
        while (await restReader.NextAsync() is { } e) rest.Add(e);
        rest.Select(e => e.Event).TakeLast(2).Should().Equal("error", "done");
        rest[^2].Json.Str("code").Should().Be("instance_lost");
        rest[^1].Json.GetProperty("completed").GetBoolean().Should().BeFalse();
        (toldBeforeKill + string.Concat(rest.Where(e => e.Event == "text").Select(e => e.Json.Str("content")))).Should().Be(stored.Value.Content,
            "the resumed reader gets exactly the text that was stored");
    }

    [Fact]
    public async Task SigtermOnOneInstance_ItsStreamFinishesWithinTheDrain_WhileNewTurnsGoToTheOther()
    {
        _upstream.Script = FakeScript.Numbered(40, TimeSpan.FromMilliseconds(50)); // two seconds of reply
        using var clientA = _a.Client();
        using var response = await clientA.SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "Keep going" }), HttpCompletionOption.ResponseHeadersRead);
        var reader = new SseReader(await response.Content.ReadAsStreamAsync());
        var seen = new List<SseEvent>();
        while (seen.Count(e => e.Event == "text") < 3 && await reader.NextAsync() is { } e) seen.Add(e);

        await _a.TerminateAsync();
        _upstream.Script = new FakeScript();
        using var viaGateway = _gateway.Client();
        for (var i = 0; i < 4; i++) (await AskAsync(viaGateway)).Should().Be("Hello from the fake model.", "nginx passes new turns to the instance still serving");
        while (await reader.NextAsync() is { } e) seen.Add(e);
        (await _a.WaitForExitAsync(TimeSpan.FromSeconds(15))).Should().Be(0, "the instance exits once its stream is done");

        seen[^1].Event.Should().Be("done");
        seen[^1].Json.GetProperty("completed").GetBoolean().Should().BeTrue("the stream in flight finished within the drain");
        string.Concat(seen.Where(e => e.Event == "text").Select(e => e.Json.Str("content"))).Should().Be(string.Concat(FakeScript.Numbered(40, TimeSpan.Zero).Chunks));
    }

    [Fact]
    public async Task RedisLostAndBack_BothInstancesKeepServingAndStoring()
    {
        _upstream.Script = new FakeScript();
        using var client = Authorized(_gateway.Client(), Tokens.For("steady-" + Guid.NewGuid().ToString("N")[..8], tier: "free"));
        await _redis.StopAsync();
        var whileAway = new List<string>();
        for (var i = 0; i < 4; i++) whileAway.Add(await AskAsync(client));
        await _redis.RestartAsync();
        await Task.Delay(1500); // the multiplexers reconnect on their own
        var afterwards = await AskAsync(client);

        whileAway.Concat([afterwards]).Should().OnlyContain(text => text == "Hello from the fake model.", "limits degrade to per instance, turns go on");
        (await CountAsync("SELECT count(*) FROM chat_messages WHERE role = 'assistant' AND status = 'complete'")).Should().Be(5, "every reply is in PostgreSQL");
        (_a.Output + _b.Output).Should().Contain("Redis is unreachable", "the degradation is logged as a warning");
    }

    private static async Task<string> AskAsync(HttpClient client)
    {
        using var response = await client.SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "Hi", stream = false }));
        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return (await response.JsonAsync()).GetProperty("message").Str("content");
    }

    private static HttpClient Authorized(HttpClient client, string token)
    {
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private async Task<(string Status, string Content)?> ReplyAsync(Guid messageId)
    {
        await using var conn = new NpgsqlConnection(_database);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT status, content FROM chat_messages WHERE id = @id", conn);
        cmd.Parameters.AddWithValue("id", messageId);
        await using var reader = await cmd.ExecuteReaderAsync();
        return await reader.ReadAsync() ? (reader.GetString(0), reader.GetString(1)) : null;
    }

    private async Task<long> CountAsync(string sql)
    {
        await using var conn = new NpgsqlConnection(_database);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }
}
