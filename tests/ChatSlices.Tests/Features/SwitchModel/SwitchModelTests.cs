using System.Net;
using System.Net.Http.Json;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.SwitchModel;

public class SwitchModelTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    [Fact]
    public async Task Switch_KeepsHistory_RecordsIt_AndTheNextTurnUsesTheNewModelWithTheWholeHistory()
    {
        api.Upstream.Script = new FakeScript();
        var client = api.UserClient("switcher");
        var first = await (await client.PostAsJsonAsync("/v1/chat/stream", new { query = "Hello local", model = "local-chat", stream = false })).JsonAsync();
        var sessionId = first.Str("session_id");

        var switched = await (await client.PostAsJsonAsync("/v1/chat/switch-model", new { session_id = sessionId, model = "fake-gpt" })).ShouldBeJsonAsync(HttpStatusCode.OK);

        switched.Str("model").Should().Be("fake-gpt");
        switched.Str("title").Should().Be("Hello local");
        switched.GetProperty("messages").EnumerateArray().Select(m => m.Str("role")).Should().Equal("user", "assistant", "system");
        switched.GetProperty("messages")[2].Str("content").Should().Be("Model switched from local-chat to fake-gpt.");

        var requestsBefore = api.Upstream.Requests.Count;
        (await client.PostAsJsonAsync("/v1/chat/stream", new { query = "And now?", session_id = sessionId, stream = false })).EnsureSuccessStatusCode();

        var sent = api.Upstream.Requests.Skip(requestsBefore).Single().Body;
        sent["model"]!.GetValue<string>().Should().Be("gpt-fake");
        sent["messages"]!.AsArray().Select(m => m!["role"]!.GetValue<string>()).Should().Equal("user", "assistant", "user");
        sent["messages"]![0]!["content"]!.GetValue<string>().Should().Be("Hello local");
    }

    [Fact]
    public async Task Switch_ToAnUnknownModel_Is400_AndChangesNothing()
    {
        var client = api.UserClient("switcher2");
        var sessionId = (await (await client.PostAsJsonAsync("/v1/chat/sessions", new { model = "local-chat" })).JsonAsync()).Str("id");

        var problem = await (await client.PostAsJsonAsync("/v1/chat/switch-model", new { session_id = sessionId, model = "gpt-9" })).ShouldBeProblemAsync(HttpStatusCode.BadRequest);

        problem.Str("code").Should().Be("model_not_found");
        problem.Str("detail").Should().Be("Unknown model 'gpt-9'. GET /v1/models lists the chat models.");
        (await api.ScalarAsync<string>("SELECT model FROM chat_sessions WHERE id = @id::uuid", new { id = sessionId })).Should().Be("local-chat");
    }

    [Fact]
    public async Task Switch_WithAnUnknownSession_Is404_AndMissingFields_Are422()
    {
        var client = api.UserClient("switcher3");

        await (await client.PostAsJsonAsync("/v1/chat/switch-model", new { session_id = Guid.NewGuid(), model = "local-chat" })).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        var problem = await (await client.PostAsJsonAsync("/v1/chat/switch-model", new { })).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
        problem.GetProperty("errors").GetProperty("session_id").GetArrayLength().Should().Be(1);
        problem.GetProperty("errors").GetProperty("model").GetArrayLength().Should().Be(1);
    }
}
