using System.Net;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.StreamChat;

/// <summary>
/// The user's turn is committed while the model already thinks. A trigger in this class's own database makes the
/// commit slow ("slow commit …") or fail ("refused commit …"), so the orderings can be watched.
/// </summary>
public class TurnCommitTests : IAsyncLifetime
{
    private readonly ChatApiFactory _api = new();

    private const string SlowCommitTrigger = """
        CREATE FUNCTION test_commit_delay() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.role = 'user' AND NEW.content LIKE 'slow commit%' THEN PERFORM pg_sleep(1); END IF;
            IF NEW.role = 'user' AND NEW.content LIKE 'refused commit%' THEN
                PERFORM pg_sleep(0.5);
                RAISE EXCEPTION 'refused by the test';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER test_commit_delay BEFORE INSERT ON chat_messages FOR EACH ROW EXECUTE FUNCTION test_commit_delay();
        """;

    public async Task InitializeAsync()
    {
        _api.With("RateLimits:Tiers:free:TokensPerDay", "1000000");
        await _api.InitializeAsync();
        await _api.ExecuteAsync(SlowCommitTrigger);
    }

    public async Task DisposeAsync() => await _api.DisposeAsync();

    private async Task<(HttpResponseMessage Response, SseReader Reader)> StartAsync(HttpClient client, string query)
    {
        var response = await client.SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query }), HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        return (response, new SseReader(await response.Content.ReadAsStreamAsync()));
    }

    private async Task<FakeRequest> UpstreamRequestAsync(int before)
    {
        for (var i = 0; i < 100 && _api.Upstream.Requests.Count <= before; i++) await Task.Delay(50);
        return _api.Upstream.Requests.Skip(before).Single();
    }

    [Fact]
    public async Task TheModelIsAskedWhileTheTurnCommits_AndTheSessionEventWaitsForTheCommit()
    {
        _api.Upstream.Script = new FakeScript();
        var before = _api.Upstream.Requests.Count;
        var (_, reader) = await StartAsync(_api.SocketClient(Tokens.For("commit-order")), "slow commit, then answer");

        var events = await reader.ReadAllAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);

        events.Select(e => e.Event).Should().StartWith(["session", "sources", "text"]).And.EndWith(["usage", "done"]);
        var upstream = _api.Upstream.Requests.Skip(before).Single();
        upstream.StartedAt.Should().BeLessThan(events[0].ArrivedAt, "the upstream request went out before the turn's commit ended");
        (await _api.ScalarAsync<string>("SELECT string_agg(role || ':' || status, '|' ORDER BY created_at) FROM chat_messages WHERE session_id = @id::uuid",
            new { id = events[0].Json.Str("session_id") })).Should().Be("user:complete|assistant:complete");
    }

    [Fact]
    public async Task AFailedCommit_AfterTheUpstreamCallStarted_CancelsIt_AndIsA503BeforeAnyByteOfTheStream()
    {
        _api.Upstream.Script = FakeScript.Numbered(50, TimeSpan.FromMilliseconds(100));
        var before = _api.Upstream.Requests.Count;

        var response = await _api.SocketClient(Tokens.For("commit-refused"))
            .SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "refused commit, please" }), HttpCompletionOption.ResponseHeadersRead);

        var problem = await response.ShouldBeProblemAsync(HttpStatusCode.ServiceUnavailable);
        problem.Str("code").Should().Be("storage_failed");
        var upstream = _api.Upstream.Requests.Skip(before).Single(); // it was asked while the turn was being stored
        await upstream.Aborted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        (await _api.ScalarAsync<long>("SELECT count(*) FROM chat_messages WHERE content LIKE 'refused commit%'")).Should().Be(0);
        (await _api.ScalarAsync<long>("SELECT coalesce(sum(tokens), 0)::bigint FROM usage_daily WHERE subject LIKE '%commit-refused%'"))
            .Should().Be(0, "the reservation went with the transaction that could not commit");
    }

    [Fact]
    public async Task AClientThatLeavesDuringTheCommit_LeavesTheTurnStored_AndTheReplyInterrupted_AndTheUpstreamCancelled()
    {
        _api.Upstream.Script = FakeScript.Numbered(50, TimeSpan.FromMilliseconds(100));
        var before = _api.Upstream.Requests.Count;
        using var client = _api.SocketClient(Tokens.For("commit-leaver"));
        using var leave = new CancellationTokenSource();
        var sending = client.SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "slow commit, and I leave" }),
            HttpCompletionOption.ResponseHeadersRead, leave.Token);
        var upstream = await UpstreamRequestAsync(before);

        await leave.CancelAsync(); // gone while the turn is still being committed (the trigger holds it for a second)

        await FluentActions.Awaiting(() => sending).Should().ThrowAsync<OperationCanceledException>();
        await upstream.Aborted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        string? stored = null;
        for (var i = 0; i < 100 && stored is not { Length: > 20 }; i++, await Task.Delay(100))
            stored = await _api.ScalarAsync<string>("""
                SELECT string_agg(m.role || ':' || m.status, '|' ORDER BY m.created_at) FROM chat_messages m
                WHERE m.session_id = (SELECT session_id FROM chat_messages WHERE content = 'slow commit, and I leave')
                """);
        stored.Should().Be("user:complete|assistant:interrupted");
        (await _api.ScalarAsync<long>("SELECT tokens FROM usage_daily WHERE subject LIKE '%commit-leaver%'"))
            .Should().BeLessThan(100, "the reservation (over a thousand tokens) was settled to what the interrupted turn used");
    }
}
