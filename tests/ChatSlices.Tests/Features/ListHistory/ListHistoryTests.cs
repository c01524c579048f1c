using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChatSlices.Tests.Support;
using Npgsql;

namespace ChatSlices.Tests.Features.ListHistory;

/// <summary>History over seeded rows with known dates: 25 sessions of "hist" (one archived), 3 of "other".</summary>
public class ListHistoryTests : IClassFixture<ListHistoryTests.SeededApi>
{
    public sealed class SeededApi : ApiFactory
    {
        public static readonly DateTime Day0 = new(2026, 1, 1, 12, 0, 0, DateTimeKind.Utc);

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            await using var conn = new NpgsqlConnection(ConnectionString);
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand("""
                INSERT INTO users (id) VALUES ('hist'), ('other');
                INSERT INTO chat_sessions (id, user_id, model, title, created_at, updated_at, archived_at)
                SELECT gen_random_uuid(), 'hist', CASE WHEN i % 2 = 0 THEN 'local-chat' ELSE 'other-model' END, 'Session ' || i,
                       @day0 + (i || ' days')::interval, @day0 + (i || ' days')::interval + interval '1 hour',
                       CASE WHEN i = 25 THEN @day0 END
                FROM generate_series(1, 25) i;
                INSERT INTO chat_sessions (id, user_id, model, title, created_at, updated_at)
                SELECT gen_random_uuid(), 'other', 'local-chat', 'Other ' || i, @day0, @day0 FROM generate_series(1, 3) i;
                INSERT INTO chat_messages (id, session_id, user_id, role, content, created_at)
                SELECT gen_random_uuid(), s.id, s.user_id, r.role, r.role || ' words of ' || s.title, s.created_at + r.offs
                FROM chat_sessions s, (VALUES ('user', interval '1 minute'), ('assistant', interval '2 minutes')) r(role, offs);
                UPDATE chat_messages SET content = 'we talked about a zebracorn here'
                WHERE role = 'assistant' AND session_id = (SELECT id FROM chat_sessions WHERE title = 'Session 7');
                UPDATE chat_messages SET content = 'zebracorn, but not yours'
                WHERE role = 'assistant' AND session_id = (SELECT id FROM chat_sessions WHERE title = 'Other 1');
                """ + SeededTree.ChainSql, conn);
            cmd.Parameters.AddWithValue("day0", Day0);
            await cmd.ExecuteNonQueryAsync();
        }
    }

    private readonly SeededApi _api;
    private readonly HttpClient _client;

    public ListHistoryTests(SeededApi api)
    {
        _api = api;
        _client = api.UserClient("hist");
    }

    private async Task<JsonElement> HistoryAsync(string query = "") =>
        await (await _client.GetAsync("/v1/chat/history" + query)).ShouldBeJsonAsync(HttpStatusCode.OK);

    private static List<string> Titles(JsonElement page) => page.GetProperty("sessions").EnumerateArray().Select(s => s.Str("title")).ToList();

    [Fact]
    public async Task FirstPage_IsTheTenMostRecentlyUpdated_OfTheCallersUnarchivedSessions()
    {
        var page = await HistoryAsync();

        page.GetProperty("total").GetInt64().Should().Be(24);
        page.GetProperty("page").GetInt32().Should().Be(1);
        page.GetProperty("page_size").GetInt32().Should().Be(10);
        Titles(page).Should().Equal(Enumerable.Range(15, 10).Reverse().Select(i => $"Session {i}"));
        var first = page.GetProperty("sessions")[0];
        first.Str("user_id").Should().Be("hist");
        first.GetProperty("message_count").GetInt64().Should().Be(2);
        first.GetProperty("messages").EnumerateArray().Select(m => m.Str("role")).Should().Equal("user", "assistant");
    }

    [Fact]
    public async Task Paging_ReachesTheEnd_AndBeyondItIsAnEmptyPageWithTheTotal()
    {
        Titles(await HistoryAsync("?page=3&page_size=10")).Should().Equal(Enumerable.Range(1, 4).Reverse().Select(i => $"Session {i}"));

        var beyond = await HistoryAsync("?page=9&page_size=10");
        beyond.GetProperty("sessions").GetArrayLength().Should().Be(0);
        beyond.GetProperty("total").GetInt64().Should().Be(24);
        (await HistoryAsync("?page_size=100")).GetProperty("sessions").GetArrayLength().Should().Be(24);
    }

    [Theory]
    [InlineData("?page=0", "page")]
    [InlineData("?page=first", "page")]
    [InlineData("?page_size=101", "page_size")]
    [InlineData("?page_size=0", "page_size")]
    [InlineData("?start_date=yesterday", "start_date")]
    [InlineData("?end_date=2026-13-40", "end_date")]
    [InlineData("?start_date=2026-02-01&end_date=2026-01-01", "end_date")]
    [InlineData("?assistant_id=nope", "assistant_id")]
    [InlineData("?end_date=9999-12-31", "end_date")]
    [InlineData("?end_date=9999-12-31T23:59:59Z", "end_date")]
    [InlineData("?start_date=0001-01-01", "start_date")]
    [InlineData("?start_date=9999-12-31", "start_date")]
    public async Task InvalidQueryValues_Are422NamingTheField(string query, string field)
    {
        var problem = await (await _client.GetAsync("/v1/chat/history" + query)).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);

        problem.GetProperty("errors").TryGetProperty(field, out _).Should().BeTrue(problem.ToString());
    }

    [Fact]
    public async Task DateFilters_SelectSessionsCreatedWithinWholeDays()
    {
        // Session i was created on Day0 + i days (at noon).
        var page = await HistoryAsync("?start_date=2026-01-03&end_date=2026-01-05");

        Titles(page).Should().Equal("Session 4", "Session 3", "Session 2");
        Titles(await HistoryAsync("?start_date=2026-01-24T00:00:00Z")).Should().Equal("Session 24", "Session 23");
    }

    [Fact]
    public async Task ModelFilter_And_IncludeArchived()
    {
        (await HistoryAsync("?model=local-chat&page_size=100")).GetProperty("total").GetInt64().Should().Be(12);
        (await HistoryAsync("?include_archived=true")).GetProperty("total").GetInt64().Should().Be(25);
        Titles(await HistoryAsync("?include_archived=true&page_size=1")).Should().Equal("Session 25");
    }

    [Fact]
    public async Task Search_FindsAWordThatOnlyAppearsInAMessage_AndOnlyInTheCallersSessions()
    {
        var page = await HistoryAsync("?q=zebracorn");

        Titles(page).Should().Equal("Session 7");
        page.GetProperty("total").GetInt64().Should().Be(1);
    }

    [Fact]
    public async Task Search_FindsTheWordsOfTurnsStoredThroughTheApi_ForTheirOwnerOnly()
    {
        var owner = _api.UserClient("hist-turns");
        var first = await (await owner.PostAsJsonAsync("/v1/chat/stream", new { query = "tell me of the okapiberry", model = "local-chat", stream = false }))
            .ShouldBeJsonAsync(HttpStatusCode.OK);
        var sessionId = first.Str("session_id");
        (await owner.PostAsJsonAsync("/v1/chat/stream", new { query = "and of the quokkafig", session_id = sessionId, model = "local-chat", stream = false }))
            .StatusCode.Should().Be(HttpStatusCode.OK);

        // The new session's question, the next question in it, and a word only the stored replies hold.
        foreach (var word in new[] { "okapiberry", "quokkafig", "documents" })
        {
            var page = await (await owner.GetAsync($"/v1/chat/history?q={word}")).ShouldBeJsonAsync(HttpStatusCode.OK);
            page.GetProperty("sessions").EnumerateArray().Select(s => s.Str("id")).Should().Equal([sessionId], word);
        }
        var stranger = await (await _api.UserClient("hist-stranger").GetAsync("/v1/chat/history?q=okapiberry")).ShouldBeJsonAsync(HttpStatusCode.OK);
        stranger.GetProperty("total").GetInt64().Should().Be(0);
    }

    [Fact]
    public async Task Search_MatchesTitles_BestMatchFirst()
    {
        var page = await HistoryAsync("?q=session%2012");

        Titles(page).First().Should().Be("Session 12");
    }

    [Fact]
    public async Task IncludeMessagesFalse_LeavesThemOut()
    {
        var page = await HistoryAsync("?include_messages=false&page_size=3");

        page.GetProperty("sessions").GetArrayLength().Should().Be(3);
        (await HistoryAsync("?page_size=3")).GetProperty("sessions").EnumerateArray().Select(s => s.TryGetProperty("messages", out var m) && m.ValueKind == JsonValueKind.Array).Should().Equal(true, true, true);
        var withMessages = page.GetProperty("sessions").EnumerateArray().Count(s => s.TryGetProperty("messages", out _));
        withMessages.Should().Be(0);
    }
}
