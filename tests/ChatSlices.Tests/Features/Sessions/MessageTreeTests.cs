using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.Sessions;

/// <summary>Conversations as trees: regenerate, edit, switch branch, delete a subtree; history is the active branch.</summary>
public class MessageTreeTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    private static FakeScript Says(string text) => new() { Chunks = [text] };

    /// <summary>A session of the fake model with the turns (question, answer) given, each answered as scripted.</summary>
    private async Task<(HttpClient Client, string SessionId)> ConversationAsync(string user, params (string Question, string Answer)[] turns)
    {
        var client = api.UserClient(user);
        var id = (await (await client.PostAsJsonAsync("/v1/chat/sessions", new { model = "fake-gpt" })).ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");
        foreach (var (question, answer) in turns) await TurnAsync(client, id, question, answer);
        return (client, id);
    }

    private async Task TurnAsync(HttpClient client, string sessionId, string question, string answer)
    {
        api.Upstream.Script = Says(answer);
        await (await client.PostAsJsonAsync("/v1/chat/stream", new { query = question, session_id = sessionId, stream = false })).ShouldBeJsonAsync(HttpStatusCode.OK);
    }

    private static async Task<List<JsonElement>> ActiveBranchAsync(HttpClient client, string sessionId) =>
        (await (await client.GetAsync($"/v1/chat/sessions/{sessionId}")).ShouldBeJsonAsync(HttpStatusCode.OK)).GetProperty("messages").EnumerateArray().ToList();

    private static List<string> Contents(IEnumerable<JsonElement> messages) => messages.Select(m => m.Str("content")).ToList();

    private static async Task<string> IdOfAsync(HttpClient client, string sessionId, string content) =>
        (await (await client.GetAsync($"/v1/chat/sessions/{sessionId}/messages?branch=all&limit=100")).ShouldBeJsonAsync(HttpStatusCode.OK))
            .GetProperty("items").EnumerateArray().Single(m => m.Str("content") == content).Str("id");

    private Task<string?> StoredContentAsync(string messageId) =>
        api.ScalarAsync<string>("SELECT content || '|' || status FROM chat_messages WHERE id = @id::uuid", new { id = messageId });

    /// <summary>The conversation the fake model was last sent: each message as "role: content", system turns left out.</summary>
    private List<string> LastPromptSent() =>
        api.Upstream.Requests.Last().Body["messages"]!.AsArray()
            .Where(m => m!["role"]!.GetValue<string>() != "system")
            .Select(m => $"{m!["role"]!.GetValue<string>()}: {m["content"]!.GetValue<string>()}").ToList();

    [Fact]
    public async Task Regenerate_AddsASiblingReply_LeavesTheOldOneAsItWas_AndMakesTheNewOneActive()
    {
        var (client, id) = await ConversationAsync("regen", ("Q1", "A1"), ("Q2", "A2"));
        var old = await IdOfAsync(client, id, "A2");
        var before = await StoredContentAsync(old);

        api.Upstream.Script = Says("A2 again");
        var body = await (await client.PostAsJsonAsync($"/v1/chat/sessions/{id}/messages/{old}/regenerate", new { stream = false }))
            .ShouldBeJsonAsync(HttpStatusCode.OK);

        body.GetProperty("message").Str("content").Should().Be("A2 again");
        LastPromptSent().Should().Equal("user: Q1", "assistant: A1", "user: Q2");
        (await StoredContentAsync(old)).Should().Be(before, "a regenerate never changes the old reply");
        var branch = await ActiveBranchAsync(client, id);
        Contents(branch).Should().Equal("Q1", "A1", "Q2", "A2 again");
        branch[^1].GetProperty("sibling_count").GetInt32().Should().Be(2);
        branch[^1].GetProperty("sibling_position").GetInt32().Should().Be(2);
        branch[^1].GetProperty("sibling_ids")[0].GetString().Should().Be(old);
        branch[^1].Str("parent_id").Should().Be(branch[^2].Str("id"));
        branch[0].GetProperty("sibling_count").GetInt32().Should().Be(1);

        var back = await (await client.PostAsJsonAsync($"/v1/chat/sessions/{id}/active", new { message_id = old })).ShouldBeJsonAsync(HttpStatusCode.OK);
        var shown = back.GetProperty("messages").EnumerateArray().ToList();
        Contents(shown).Should().Equal("Q1", "A1", "Q2", "A2");
        shown[^1].GetProperty("sibling_position").GetInt32().Should().Be(1);
        back.Str("active_leaf_id").Should().Be(old);
    }

    [Fact]
    public async Task Regenerate_NamingTheUserTurn_Streams_InTheFormatsOfStreamChat_WithAnotherModel()
    {
        var (client, id) = await ConversationAsync("regen-sse", ("Q1", "A1"));
        var question = await IdOfAsync(client, id, "Q1");
        api.Upstream.Script = Says("A1 streamed");

        using var response = await client.SendAsync(ChatApiFactory.Post($"/v1/chat/sessions/{id}/messages/{question}/regenerate", new { model = "fake-gpt" }),
            HttpCompletionOption.ResponseHeadersRead);

        response.Content.Headers.ContentType!.MediaType.Should().Be("text/event-stream");
        var events = await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync();
        events.Select(e => e.Event).Should().StartWith("session").And.EndWith("done");
        string.Concat(events.Where(e => e.Event == "text").Select(e => e.Json.Str("content"))).Should().Be("A1 streamed");
        events[0].Json.Str("user_message_id").Should().Be(question, "the reply answers the stored turn; no new user turn");
        Contents(await ActiveBranchAsync(client, id)).Should().Equal("Q1", "A1 streamed");
        (await api.ScalarAsync<long>("SELECT count(*) FROM chat_messages WHERE session_id = @id::uuid AND role = 'user'", new { id })).Should().Be(1);
    }

    [Fact]
    public async Task Edit_AddsASiblingTurn_WithItsReply_TheOldBranchStaysReachable_AndLaterTurnsSeeOnlyTheActiveBranch()
    {
        var (client, id) = await ConversationAsync("editor", ("Q1", "A1"), ("Q2", "A2"));
        var q2 = await IdOfAsync(client, id, "Q2");

        api.Upstream.Script = Says("A2 for the edit");
        var edited = await (await client.PutAsJsonAsync($"/v1/chat/sessions/{id}/messages/{q2}", new { content = "Q2 edited", stream = false }))
            .ShouldBeJsonAsync(HttpStatusCode.OK);
        edited.GetProperty("message").Str("content").Should().Be("A2 for the edit");
        LastPromptSent().Should().Equal("user: Q1", "assistant: A1", "user: Q2 edited");

        await TurnAsync(client, id, "Q3", "A3");
        LastPromptSent().Should().Equal("user: Q1", "assistant: A1", "user: Q2 edited", "assistant: A2 for the edit", "user: Q3");
        var branch = await ActiveBranchAsync(client, id);
        Contents(branch).Should().Equal("Q1", "A1", "Q2 edited", "A2 for the edit", "Q3", "A3");
        branch[2].GetProperty("sibling_position").GetInt32().Should().Be(2);

        var tree = await (await client.GetAsync($"/v1/chat/sessions/{id}/messages?branch=all")).ShouldBeJsonAsync(HttpStatusCode.OK);
        tree.GetProperty("total").GetInt64().Should().Be(8);
        Contents(tree.GetProperty("items").EnumerateArray()).Should().Equal("Q1", "A1", "Q2", "A2", "Q2 edited", "A2 for the edit", "Q3", "A3");

        await client.PostAsJsonAsync($"/v1/chat/sessions/{id}/active", new { message_id = q2 });
        Contents(await ActiveBranchAsync(client, id)).Should().Equal("Q1", "A1", "Q2", "A2");
        await TurnAsync(client, id, "Q3 on the old branch", "A3b");
        LastPromptSent().Should().Equal("user: Q1", "assistant: A1", "user: Q2", "assistant: A2", "user: Q3 on the old branch");
    }

    [Fact]
    public async Task Edit_WithReplyFalse_StoresTheTurnOnly_AsTheActiveLeaf()
    {
        var (client, id) = await ConversationAsync("quiet-editor", ("Q1", "A1"));
        var q1 = await IdOfAsync(client, id, "Q1");
        var calls = api.Upstream.Requests.Count;

        var stored = await (await client.PutAsJsonAsync($"/v1/chat/sessions/{id}/messages/{q1}", new { content = "Q1 reworded", reply = false }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);

        stored.Str("role").Should().Be("user");
        stored.GetProperty("parent_id").ValueKind.Should().Be(JsonValueKind.Null, "a first turn's sibling is a first turn too");
        api.Upstream.Requests.Count.Should().Be(calls, "no reply was asked for");
        var branch = await ActiveBranchAsync(client, id);
        Contents(branch).Should().Equal("Q1 reworded");
        branch[0].GetProperty("sibling_count").GetInt32().Should().Be(2);
    }

    [Fact]
    public async Task Edit_OfAReply_Is422_AndUnknownOrForeignMessages_Are404()
    {
        var (client, id) = await ConversationAsync("edit-checks", ("Q1", "A1"));
        var (_, otherId) = await ConversationAsync("edit-checks", ("Elsewhere", "There"));
        var a1 = await IdOfAsync(client, id, "A1");
        var foreign = await IdOfAsync(client, otherId, "Elsewhere");

        var problem = await (await client.PutAsJsonAsync($"/v1/chat/sessions/{id}/messages/{a1}", new { content = "x" })).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
        problem.GetProperty("errors").TryGetProperty("message_id", out _).Should().BeTrue();
        await (await client.PutAsJsonAsync($"/v1/chat/sessions/{id}/messages/{a1}", new { content = "x", reply = false })).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
        await (await client.PutAsJsonAsync($"/v1/chat/sessions/{id}/messages/{foreign}", new { content = "x" })).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        var q1 = await IdOfAsync(client, id, "Q1");
        await (await api.UserClient("not-the-editor").PutAsJsonAsync($"/v1/chat/sessions/{id}/messages/{q1}", new { content = "x", reply = false }))
            .ShouldBeProblemAsync(HttpStatusCode.NotFound);
        await (await client.PostAsJsonAsync($"/v1/chat/sessions/{id}/messages/{Guid.NewGuid()}/regenerate", new { })).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        await (await client.PostAsJsonAsync($"/v1/chat/sessions/{id}/active", new { message_id = foreign })).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        await (await client.DeleteAsync($"/v1/chat/sessions/{id}/messages/{foreign}")).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        await (await client.PutAsJsonAsync($"/v1/chat/sessions/{id}/messages/{Guid.NewGuid()}", new { content = "" })).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
        Contents(await ActiveBranchAsync(client, id)).Should().Equal("Q1", "A1");
    }

    [Fact]
    public async Task DeletingAMessage_RemovesExactlyItsSubtree_AndTheNewestBranchLeftBecomesActive()
    {
        var (client, id) = await ConversationAsync("pruner", ("Q1", "A1"), ("Q2", "A2"));
        var q2 = await IdOfAsync(client, id, "Q2");
        var a2 = await IdOfAsync(client, id, "A2");
        api.Upstream.Script = Says("A2b");
        await client.PostAsJsonAsync($"/v1/chat/sessions/{id}/messages/{a2}/regenerate", new { stream = false });
        var a2b = await IdOfAsync(client, id, "A2b");

        var one = await (await client.DeleteAsync($"/v1/chat/sessions/{id}/messages/{a2b}")).ShouldBeJsonAsync(HttpStatusCode.OK);
        one.GetProperty("deleted").GetInt64().Should().Be(1);
        one.Str("active_leaf_id").Should().Be(a2, "the active reply went: its sibling is the newest branch left under their turn");
        Contents(await ActiveBranchAsync(client, id)).Should().Equal("Q1", "A1", "Q2", "A2");

        var three = await (await client.DeleteAsync($"/v1/chat/sessions/{id}/messages/{q2}")).ShouldBeJsonAsync(HttpStatusCode.OK);
        three.GetProperty("deleted").GetInt64().Should().Be(2);
        Contents(await ActiveBranchAsync(client, id)).Should().Equal("Q1", "A1");
        (await api.ScalarAsync<long>("SELECT count(*) FROM chat_messages WHERE session_id = @id::uuid", new { id })).Should().Be(2);

        await (await api.UserClient("not-the-pruner").DeleteAsync($"/v1/chat/sessions/{id}/messages/{await IdOfAsync(client, id, "A1")}"))
            .ShouldBeProblemAsync(HttpStatusCode.NotFound);
        (await api.ScalarAsync<long>("SELECT count(*) FROM chat_messages WHERE session_id = @id::uuid", new { id })).Should().Be(2);
    }

    [Fact]
    public async Task SessionSettings_AreUsedByLaterTurns_UnlessTheTurnSendsItsOwn_AndNullClearsThem()
    {
        var (client, id) = await ConversationAsync("settler");

        var patched = await (await client.PatchAsJsonAsync($"/v1/chat/sessions/{id}", new { system_prompt = "Answer in French.", temperature = 0.2, max_tokens = 300, title = "Mine" }))
            .ShouldBeJsonAsync(HttpStatusCode.OK);
        patched.Str("system_prompt").Should().Be("Answer in French.");
        patched.GetProperty("temperature").GetDouble().Should().Be(0.2);
        patched.GetProperty("max_tokens").GetInt32().Should().Be(300);
        patched.Str("title").Should().Be("Mine");

        await TurnAsync(client, id, "Bonjour?", "Oui");
        var sent = api.Upstream.Requests.Last().Body;
        sent["messages"]![0]!["content"]!.GetValue<string>().Should().Contain("Answer in French.");
        sent["temperature"]!.GetValue<double>().Should().Be(0.2);
        (sent["max_completion_tokens"] ?? sent["max_tokens"])!.GetValue<int>().Should().Be(300);
        (await (await client.GetAsync($"/v1/chat/sessions/{id}")).JsonAsync()).Str("title").Should().Be("Mine", "a title the user set stays");

        api.Upstream.Script = Says("ok");
        await client.PostAsJsonAsync("/v1/chat/stream", new { query = "Hot", session_id = id, stream = false, temperature = 1.5 });
        api.Upstream.Requests.Last().Body["temperature"]!.GetValue<double>().Should().Be(1.5, "the turn's own setting wins");

        var cleared = await (await client.PatchAsync($"/v1/chat/sessions/{id}", JsonContent.Create(new JsonObject { ["temperature"] = null, ["system_prompt"] = null })))
            .ShouldBeJsonAsync(HttpStatusCode.OK);
        cleared.GetProperty("temperature").ValueKind.Should().Be(JsonValueKind.Null);
        cleared.GetProperty("max_tokens").GetInt32().Should().Be(300, "a field left out is kept");
        await TurnAsync(client, id, "Again", "ok");
        api.Upstream.Requests.Last().Body["temperature"]!.GetValue<double>().Should().Be(0.7, "the service's default again");
    }

    [Fact]
    public async Task SessionSettings_AreValidated_ByField_AndAModelChangeIsASwitch()
    {
        var (client, id) = await ConversationAsync("settings-checks", ("Q1", "A1"));

        foreach (var (body, field) in new (object, string)[]
                 {
                     (new { temperature = 3 }, "temperature"), (new { max_tokens = 0 }, "max_tokens"), (new { max_tokens = 1.5 }, "max_tokens"),
                     (new { system_prompt = "" }, "system_prompt"), (new { title = (string?)null }, "title"), (new { model = 5 }, "model"),
                 })
        {
            var problem = await (await client.PatchAsJsonAsync($"/v1/chat/sessions/{id}", body)).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
            problem.GetProperty("errors").TryGetProperty(field, out _).Should().BeTrue(field);
        }
        await (await client.PatchAsJsonAsync($"/v1/chat/sessions/{id}", new { model = "nope" })).ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        await (await api.UserClient("stranger").PatchAsJsonAsync($"/v1/chat/sessions/{id}", new { temperature = 1 })).ShouldBeProblemAsync(HttpStatusCode.NotFound);

        var switched = await (await client.PatchAsJsonAsync($"/v1/chat/sessions/{id}", new { model = "local-chat" })).ShouldBeJsonAsync(HttpStatusCode.OK);
        switched.Str("model").Should().Be("local-chat");
        Contents(await ActiveBranchAsync(client, id)).Should().Equal("Q1", "A1", "Model switched from fake-gpt to local-chat.");
    }

    [Fact]
    public async Task AGuestSession_CanBeClaimedOnce_BySignedInUser_WithItsMessages()
    {
        api.Upstream.Script = Says("Hi guest");
        var guest = await (await api.ClientFor(null).PostAsJsonAsync("/v1/chat/stream", new { query = "I am a guest", model = "fake-gpt", stream = false }))
            .ShouldBeJsonAsync(HttpStatusCode.OK);
        var id = guest.Str("session_id");
        var owner = api.UserClient("claimer");

        var claimed = await (await owner.PostAsync($"/v1/chat/sessions/{id}/claim", null)).ShouldBeJsonAsync(HttpStatusCode.OK);

        claimed.Str("user_id").Should().Be("claimer");
        Contents(claimed.GetProperty("messages").EnumerateArray()).Should().Equal("I am a guest", "Hi guest");
        var history = await (await owner.GetAsync("/v1/chat/history?q=guest")).ShouldBeJsonAsync(HttpStatusCode.OK);
        history.GetProperty("sessions").EnumerateArray().Select(s => s.Str("id")).Should().Contain(id, "its messages are the owner's now, searchable");
        await (await api.UserClient("late-claimer").PostAsync($"/v1/chat/sessions/{id}/claim", null)).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        await (await api.ClientFor(null).GetAsync($"/v1/chat/sessions/{id}")).ShouldBeProblemAsync(HttpStatusCode.NotFound);
    }
}
