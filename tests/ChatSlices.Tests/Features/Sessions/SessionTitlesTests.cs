using System.Net;
using System.Net.Http.Json;
using ChatSlices.Features.StreamChat;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.Sessions;

public sealed class TitlesApiFactory : ChatApiFactory
{
    public TitlesApiFactory() => With("Chat:GenerateTitles", "true");
}

/// <summary>Chat:GenerateTitles: the model titles a session after its first reply; a title the user set stays.</summary>
public class SessionTitlesTests(TitlesApiFactory api) : IClassFixture<TitlesApiFactory>
{
    private const string Instruction = "Write a short title";

    private static async Task<string> FirstTurnAsync(HttpClient client, object body) =>
        (await (await client.PostAsJsonAsync("/v1/chat/stream", body)).ShouldBeJsonAsync(HttpStatusCode.OK)).Str("session_id");

    private async Task<string?> TitleOnceSetAsync(HttpClient client, string sessionId, string before)
    {
        // Written in the background after the reply: generous, for a loaded machine.
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); waited.Elapsed < TimeSpan.FromSeconds(30);)
        {
            var title = (await (await client.GetAsync($"/v1/chat/sessions/{sessionId}")).JsonAsync()).GetProperty("title").GetString();
            if (title != before) return title;
            await Task.Delay(100);
        }
        return before;
    }

    [Fact]
    public async Task AfterTheFirstReply_TheModelTitlesTheSession_InTheCallersUsage()
    {
        var client = api.UserClient("titled");
        api.Upstream.Script = new FakeScript { Chunks = ["\"Family trip to Lisbon.\""] };
        const string question = "Plan a trip to Lisbon in May for me and my two kids, with a day at the ocean aquarium please";

        var id = await FirstTurnAsync(client, new { query = question, model = "fake-gpt", stream = false });

        (await TitleOnceSetAsync(client, id, "Plan a trip to Lisbon in May for me and my two kids, with…")).Should().Be("Family trip to Lisbon");
        var asked = api.Upstream.Requests.Last().Body["messages"]!.AsArray();
        asked[0]!["content"]!.GetValue<string>().Should().StartWith(Instruction);
        asked[1]!["content"]!.GetValue<string>().Should().Contain(question).And.Contain("Family trip to Lisbon");
        (await api.ScalarAsync<long>("SELECT count(*) FROM usage_ledger WHERE user_id = 'titled' AND kind = 'title' AND session_id = @id::uuid", new { id }))
            .Should().Be(1);
        var usage = await (await client.GetAsync("/v1/tokens/usage")).ShouldBeJsonAsync(HttpStatusCode.OK);
        usage.ToString().Should().Contain("\"title\"");

        var calls = api.Upstream.Requests.Count;
        await client.PostAsJsonAsync("/v1/chat/stream", new { query = "And in June?", session_id = id, stream = false });
        // Titles are written one after the other: once a later session has its title, any request before it is done.
        var later = await FirstTurnAsync(client, new { query = "Another first turn", model = "fake-gpt", stream = false });
        (await TitleOnceSetAsync(client, later, "Another first turn")).Should().Be("Family trip to Lisbon");
        api.Upstream.Requests.Skip(calls).Count(r => r.Body["messages"]![0]!["content"]!.GetValue<string>().StartsWith(Instruction))
            .Should().Be(1, "only a session's first reply is titled");
    }

    [Fact]
    public async Task ATitleTheUserSet_IsNeverReplaced()
    {
        var client = api.UserClient("self-titled");
        api.Upstream.Script = new FakeScript { Chunks = ["Generated title"] };
        var mine = (await (await client.PostAsJsonAsync("/v1/chat/sessions", new { title = "My own title", model = "fake-gpt" })).ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");
        await client.PostAsJsonAsync("/v1/chat/stream", new { query = "Hello", session_id = mine, stream = false });

        // Titles are written one after the other: once a later session has its title, the first one's request is done.
        var later = await FirstTurnAsync(client, new { query = "A later session", model = "fake-gpt", stream = false });
        (await TitleOnceSetAsync(client, later, "A later session")).Should().Be("Generated title");

        (await (await client.GetAsync($"/v1/chat/sessions/{mine}")).JsonAsync()).Str("title").Should().Be("My own title");
        (await api.ScalarAsync<long>("SELECT count(*) FROM usage_ledger WHERE session_id = @mine::uuid AND kind = 'title'", new { mine })).Should().Be(0);
    }

    [Fact]
    public async Task SessionsBegunByChatCompletions_KeepTheQuestionsWords()
    {
        var client = api.UserClient("api-caller");
        api.Upstream.Script = new FakeScript { Chunks = ["Generated title"] };
        var calls = api.Upstream.Requests.Count;
        var completion = await (await client.PostAsJsonAsync("/v1/chat/completions",
            new { model = "fake-gpt", messages = new[] { new { role = "user", content = "An API caller's question" } } })).ShouldBeJsonAsync(HttpStatusCode.OK);
        var viaApi = completion.Str("session_id");

        // Titles are written one after the other: once a later session has its title, the first one's request is done.
        var later = await FirstTurnAsync(client, new { query = "A chat session", model = "fake-gpt", stream = false });
        (await TitleOnceSetAsync(client, later, "A chat session")).Should().Be("Generated title");

        (await (await client.GetAsync($"/v1/chat/sessions/{viaApi}")).JsonAsync()).Str("title").Should().Be("An API caller's question");
        api.Upstream.Requests.Skip(calls).Count(r => r.Body["messages"]![0]!["content"]!.GetValue<string>().StartsWith(Instruction))
            .Should().Be(1, "only the chat route's session is titled");
    }

    [Theory]
    [InlineData("\"Trip to Lisbon.\"", "Trip to Lisbon")]
    [InlineData("Title: **Budget review**\nHere is why…", "Budget review")]
    [InlineData("  ", null)]
    public void TheModelsAnswer_IsCleanedIntoATitle(string answer, string? title) => SessionTitles.Clean(answer).Should().Be(title);
}
