using System.Net;
using System.Net.Http.Json;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.Sessions;

public class SessionsTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    private async Task<string> NewSessionWithTurnsAsync(HttpClient client, int turns, string? title = null)
    {
        var session = await (await client.PostAsJsonAsync("/v1/chat/sessions", new { title, model = "local-chat" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var id = session.Str("id");
        for (var i = 0; i < turns; i++)
            (await client.PostAsJsonAsync("/v1/chat/stream", new { query = $"question {i}", session_id = id, stream = false })).EnsureSuccessStatusCode();
        return id;
    }

    [Fact]
    public async Task Create_Is201WithTheSession_AndTheFirstTurnGivesItATitle()
    {
        var client = api.UserClient("creator");

        var response = await client.PostAsJsonAsync("/v1/chat/sessions", new { model = "local-chat" });

        var session = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        response.Headers.Location!.ToString().Should().Be($"/v1/chat/sessions/{session.Str("id")}");
        session.Str("user_id").Should().Be("creator");
        session.Str("model").Should().Be("local-chat");
        session.GetProperty("title").ValueKind.Should().Be(System.Text.Json.JsonValueKind.Null);
        session.GetProperty("archived").GetBoolean().Should().BeFalse();
        session.GetProperty("message_count").GetInt64().Should().Be(0);

        await client.PostAsJsonAsync("/v1/chat/stream", new { query = "Plan a trip to Lisbon", session_id = session.Str("id"), stream = false });

        (await (await client.GetAsync($"/v1/chat/sessions/{session.Str("id")}")).JsonAsync()).Str("title").Should().Be("Plan a trip to Lisbon");
    }

    [Fact]
    public async Task Create_WithAnUnknownModel_Is400_AndATooLongTitle_Is422()
    {
        var client = api.UserClient("creator");

        var unknown = await (await client.PostAsJsonAsync("/v1/chat/sessions", new { model = "nope" })).ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        unknown.Str("code").Should().Be("model_not_found");
        unknown.Str("detail").Should().Be("Unknown model 'nope'. GET /v1/models lists the chat models.");
        await (await client.PostAsJsonAsync("/v1/chat/sessions", new { title = new string('t', 201) })).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
        await (await api.ClientFor(null).PostAsJsonAsync("/v1/chat/sessions", new { })).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Get_ReturnsTheMessagesInOrder_AndGuestSessionsAreReadableByIdAlone()
    {
        var client = api.UserClient("reader");
        var id = await NewSessionWithTurnsAsync(client, 2, "Reading");

        var session = await (await client.GetAsync($"/v1/chat/sessions/{id}")).ShouldBeJsonAsync(HttpStatusCode.OK);
        session.GetProperty("messages").EnumerateArray().Select(m => m.Str("role")).Should().Equal("user", "assistant", "user", "assistant");
        session.GetProperty("messages")[0].Str("content").Should().Be("question 0");
        session.GetProperty("message_count").GetInt64().Should().Be(4);

        var guestTurn = await (await api.ClientFor(null).PostAsJsonAsync("/v1/chat/stream", new { query = "as a guest", model = "local-chat", stream = false })).JsonAsync();
        var guestSession = await (await api.ClientFor(null).GetAsync($"/v1/chat/sessions/{guestTurn.Str("session_id")}")).ShouldBeJsonAsync(HttpStatusCode.OK);
        guestSession.GetProperty("messages").GetArrayLength().Should().Be(2);
    }

    [Fact]
    public async Task Messages_ArePagedOldestFirst_WithTheTotal()
    {
        var client = api.UserClient("pager");
        var id = await NewSessionWithTurnsAsync(client, 5);

        var page = await (await client.GetAsync($"/v1/chat/sessions/{id}/messages?skip=2&limit=3")).ShouldBeJsonAsync(HttpStatusCode.OK);

        page.GetProperty("total").GetInt64().Should().Be(10);
        page.GetProperty("items").EnumerateArray().Select(m => m.Str("content")).Should().StartWith("question 1");
        page.GetProperty("items").GetArrayLength().Should().Be(3);
        var beyond = await (await client.GetAsync($"/v1/chat/sessions/{id}/messages?skip=50")).ShouldBeJsonAsync(HttpStatusCode.OK);
        beyond.GetProperty("items").GetArrayLength().Should().Be(0);
        beyond.GetProperty("total").GetInt64().Should().Be(10);
        foreach (var bad in new[] { "limit=101", "limit=0", "skip=-1", "limit=abc" })
            await (await client.GetAsync($"/v1/chat/sessions/{id}/messages?{bad}")).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
    }

    /// <summary>A session of <paramref name="messages"/> messages ("message 1" oldest), written straight into the database.</summary>
    private async Task<string> LongSessionAsync(string user, int messages)
    {
        var client = api.UserClient(user);
        var id = (await (await client.PostAsJsonAsync("/v1/chat/sessions", new { title = "Long", model = "local-chat" })).ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");
        await api.ScalarAsync<object>("""
            INSERT INTO chat_messages (id, session_id, role, content, created_at)
            SELECT gen_random_uuid(), @id::uuid, CASE WHEN i % 2 = 1 THEN 'user' ELSE 'assistant' END, 'message ' || i,
                   now() - interval '1 day' + i * interval '1 second'
            FROM generate_series(1, @n) i;
            """ + SeededTree.ChainSql, new { id, n = messages });
        return id;
    }

    private static List<string> Contents(System.Text.Json.JsonElement messages) => messages.EnumerateArray().Select(m => m.Str("content")).ToList();

    [Fact]
    public async Task Get_ShowsTheLast50Messages_SaysOlderOnesWereLeftOut_AndTheyArePagedThroughMessages()
    {
        var client = api.UserClient("long-talker");
        var id = await LongSessionAsync("long-talker", 130);

        var session = await (await client.GetAsync($"/v1/chat/sessions/{id}")).ShouldBeJsonAsync(HttpStatusCode.OK);

        Contents(session.GetProperty("messages")).Should().Equal(Enumerable.Range(81, 50).Select(i => $"message {i}"), "the newest 50, oldest first");
        session.GetProperty("messages_truncated").GetBoolean().Should().BeTrue();
        session.GetProperty("message_count").GetInt64().Should().Be(130);
        var older = await (await client.GetAsync($"/v1/chat/sessions/{id}/messages?skip=0&limit=80")).ShouldBeJsonAsync(HttpStatusCode.OK);
        Contents(older.GetProperty("items")).Should().Equal(Enumerable.Range(1, 80).Select(i => $"message {i}"), "the rest is one page away");

        var shortOne = await LongSessionAsync("long-talker", 50);
        var whole = await (await client.GetAsync($"/v1/chat/sessions/{shortOne}")).ShouldBeJsonAsync(HttpStatusCode.OK);
        whole.GetProperty("messages").GetArrayLength().Should().Be(50);
        whole.GetProperty("messages_truncated").GetBoolean().Should().BeFalse();
    }

    [Fact]
    public async Task History_ShowsTheLast10MessagesOfEachSession_AndSaysWhichWereCut()
    {
        var client = api.UserClient("long-historian");
        var longId = await LongSessionAsync("long-historian", 300);
        var shortId = await LongSessionAsync("long-historian", 4);

        var page = await (await client.GetAsync("/v1/chat/history?include_messages=true")).ShouldBeJsonAsync(HttpStatusCode.OK);

        var sessions = page.GetProperty("sessions").EnumerateArray().ToDictionary(s => s.Str("id"));
        Contents(sessions[longId].GetProperty("messages")).Should().Equal(Enumerable.Range(291, 10).Select(i => $"message {i}"));
        sessions[longId].GetProperty("messages_truncated").GetBoolean().Should().BeTrue();
        sessions[longId].GetProperty("message_count").GetInt64().Should().Be(300);
        Contents(sessions[shortId].GetProperty("messages")).Should().Equal(Enumerable.Range(1, 4).Select(i => $"message {i}"));
        sessions[shortId].GetProperty("messages_truncated").GetBoolean().Should().BeFalse();
        var without = await (await client.GetAsync("/v1/chat/history?include_messages=false")).ShouldBeJsonAsync(HttpStatusCode.OK);
        without.GetProperty("sessions")[0].TryGetProperty("messages_truncated", out _).Should().BeFalse("nothing was cut where no messages are shown");
    }

    [Fact]
    public async Task RenameArchiveUnarchive_ChangeTheSession_AndMoveUpdatedAt()
    {
        var client = api.UserClient("editor");
        var id = await NewSessionWithTurnsAsync(client, 0, "Old");
        var before = (await (await client.GetAsync($"/v1/chat/sessions/{id}")).JsonAsync()).GetProperty("updated_at").GetDateTime();

        var renamed = await (await client.PutAsJsonAsync($"/v1/chat/sessions/{id}", new { title = "  New name " })).ShouldBeJsonAsync(HttpStatusCode.OK);
        renamed.Str("title").Should().Be("New name");
        renamed.GetProperty("updated_at").GetDateTime().Should().BeAfter(before);

        (await (await client.PostAsync($"/v1/chat/sessions/{id}/archive", null)).ShouldBeJsonAsync(HttpStatusCode.OK)).GetProperty("archived").GetBoolean().Should().BeTrue();
        (await (await client.PostAsync($"/v1/chat/sessions/{id}/unarchive", null)).ShouldBeJsonAsync(HttpStatusCode.OK)).GetProperty("archived").GetBoolean().Should().BeFalse();
        await (await client.PutAsJsonAsync($"/v1/chat/sessions/{id}", new { title = " " })).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
    }

    [Fact]
    public async Task Reset_RemovesTheMessagesButKeepsTheSession_Delete_RemovesEverything()
    {
        var client = api.UserClient("cleaner");
        var kept = await NewSessionWithTurnsAsync(client, 2, "Keep me");
        var gone = await NewSessionWithTurnsAsync(client, 2, "Drop me");

        (await (await client.PostAsync($"/v1/chat/sessions/{kept}/reset", null)).ShouldBeJsonAsync(HttpStatusCode.OK)).Str("message").Should().Be("Session reset successfully");
        (await (await client.DeleteAsync($"/v1/chat/sessions/{gone}")).ShouldBeJsonAsync(HttpStatusCode.OK)).Str("message").Should().Be("Session deleted successfully");

        (await api.ScalarAsync<long>("SELECT count(*) FROM chat_sessions WHERE id = @id::uuid", new { id = kept })).Should().Be(1);
        (await api.ScalarAsync<long>("SELECT count(*) FROM chat_messages WHERE session_id = @id::uuid", new { id = kept })).Should().Be(0);
        (await api.ScalarAsync<long>("SELECT count(*) FROM chat_sessions WHERE id = @id::uuid", new { id = gone })).Should().Be(0);
        (await api.ScalarAsync<long>("SELECT count(*) FROM chat_messages WHERE session_id = @id::uuid", new { id = gone })).Should().Be(0);
        await (await client.DeleteAsync($"/v1/chat/sessions/{gone}")).ShouldBeProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task EveryRoute_WithAnotherUsersSession_Is404_AndChangesNothing()
    {
        var id = await NewSessionWithTurnsAsync(api.UserClient("victim"), 1, "Mine");
        var snapshot = "SELECT s.title || '|' || s.model || '|' || (s.archived_at IS NULL) || '|' || s.updated_at || '|' || (SELECT count(*) FROM chat_messages m WHERE m.session_id = s.id) FROM chat_sessions s WHERE s.id = @id::uuid";
        var before = await api.ScalarAsync<string>(snapshot, new { id });
        var intruder = api.UserClient("intruder");

        var responses = new[]
        {
            await intruder.GetAsync($"/v1/chat/sessions/{id}"),
            await api.ClientFor(null).GetAsync($"/v1/chat/sessions/{id}"),
            await intruder.GetAsync($"/v1/chat/sessions/{id}/messages"),
            await intruder.PutAsJsonAsync($"/v1/chat/sessions/{id}", new { title = "hacked" }),
            await intruder.PostAsync($"/v1/chat/sessions/{id}/archive", null),
            await intruder.PostAsync($"/v1/chat/sessions/{id}/unarchive", null),
            await intruder.PostAsync($"/v1/chat/sessions/{id}/reset", null),
            await intruder.DeleteAsync($"/v1/chat/sessions/{id}"),
            await intruder.PostAsJsonAsync($"/v1/chat/sessions/{id}/messages", new { content = "hi" }),
            await intruder.PostAsJsonAsync("/v1/chat/switch-model", new { session_id = id, model = "local-chat" }),
            await intruder.PostAsJsonAsync("/v1/chat/stream", new { query = "hi", session_id = id }),
        };

        responses.Select(r => r.StatusCode).Should().AllBeEquivalentTo(HttpStatusCode.NotFound);
        (await api.ScalarAsync<string>(snapshot, new { id })).Should().Be(before);
    }

    [Fact]
    public async Task MalformedIds_Are404()
    {
        var client = api.UserClient("anyone");

        (await client.GetAsync("/v1/chat/sessions/not-a-uuid")).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await client.DeleteAsync("/v1/chat/sessions/12345")).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }
}
