using System.Net;
using System.Net.Http.Json;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.Prompts;

/// <summary>/v1/chat/stream with prompt_id + prompt_variables: the filled-in prompt is the user turn.</summary>
public class ChatWithPromptTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    private const string Translate = "01900000-0000-7000-8000-000000000002";

    [Fact]
    public async Task APromptWithItsVariables_BecomesTheUserTurn_AndCountsAsAUse()
    {
        api.Upstream.Script = new FakeScript();
        var before = await api.ScalarAsync<int>("SELECT usage_count FROM prompts WHERE id = @id::uuid", new { id = Translate });

        var reply = await (await api.UserClient("writer").PostAsJsonAsync("/v1/chat/stream", new
        {
            prompt_id = Translate, prompt_variables = new { target_language = "French", text = "Good morning" }, stream = false,
        })).ShouldBeJsonAsync(HttpStatusCode.OK);

        var sent = api.Upstream.Requests.Last().Body["messages"]!.AsArray().Last()!["content"]!.GetValue<string>();
        sent.Should().StartWith("Translate the following text into French.").And.EndWith("Good morning");
        (await api.ScalarAsync<string>("SELECT content FROM chat_messages WHERE session_id = @id::uuid AND role = 'user'", new { id = reply.Str("session_id") }))
            .Should().Be(sent);
        (await api.ScalarAsync<int>("SELECT usage_count FROM prompts WHERE id = @id::uuid", new { id = Translate })).Should().Be(before + 1);
    }

    [Fact]
    public async Task MissingVariables_Are422_AndAnotherUsersPromptIs404()
    {
        var client = api.UserClient("writer2");
        var problem = await (await client.PostAsJsonAsync("/v1/chat/stream", new { prompt_id = Translate, prompt_variables = new { text = "x" } }))
            .ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
        problem.GetProperty("errors").GetProperty("prompt_variables")[0].GetString().Should().Contain("target_language");

        var own = await (await api.UserClient("author").PostAsJsonAsync("/v1/prompts", new { title = "Mine", content = "Say {word}" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        await (await client.PostAsJsonAsync("/v1/chat/stream", new { prompt_id = own.Str("id"), prompt_variables = new { word = "hi" } })).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        await (await client.PostAsJsonAsync("/v1/chat/stream", new { prompt_id = Translate, query = "both" })).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
    }

    [Fact]
    public async Task AFilledPromptTooLong_Is422BeforeItIsBuilt_AndAnOversizedVariableIsNamed()
    {
        var client = api.UserClient("filler");
        var many = await (await client.PostAsJsonAsync("/v1/prompts", new { title = "Many", content = string.Concat(Enumerable.Repeat("{x}", 6_666)) }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);

        var tooLong = await (await client.PostAsJsonAsync("/v1/chat/stream", new { prompt_id = many.Str("id"), prompt_variables = new { x = new string('a', 10_000) } }))
            .ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
        var oversized = await (await client.PostAsJsonAsync("/v1/chat/stream", new { prompt_id = many.Str("id"), prompt_variables = new { x = new string('a', 10_001) } }))
            .ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);

        tooLong.GetProperty("errors").GetProperty("prompt_variables")[0].GetString().Should().Be("The filled-in prompt would be longer than 10000 characters.");
        oversized.GetProperty("errors").GetProperty("prompt_variables.x")[0].GetString().Should().Be("Must be at most 10000 characters.");
    }

    [Fact]
    public async Task RejectedTurns_DoNotCountAsAUse()
    {
        var client = api.UserClient("refused");
        var id = (await (await client.PostAsJsonAsync("/v1/prompts", new { title = "Counted", content = "Say {word}" })).ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");
        var word = new { word = "hi" };

        await (await client.PostAsJsonAsync("/v1/chat/stream", new { prompt_id = id, prompt_variables = new { other = "x" } })).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
        await (await client.PostAsJsonAsync("/v1/chat/stream", new { prompt_id = id, prompt_variables = word, model = "no-such-model" })).ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        await (await client.PostAsJsonAsync("/v1/chat/stream", new { prompt_id = id, prompt_variables = word, document_ids = new[] { Guid.NewGuid() } }))
            .ShouldBeProblemAsync(HttpStatusCode.NotFound);

        (await api.ScalarAsync<int>("SELECT usage_count FROM prompts WHERE id = @id::uuid", new { id })).Should().Be(0);
    }
}
