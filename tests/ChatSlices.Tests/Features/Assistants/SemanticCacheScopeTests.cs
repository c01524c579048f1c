using System.Net;
using System.Net.Http.Json;
using ChatSlices.Tests.Features.UploadPdf;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.Assistants;

/// <summary>What an answer in an assistant's semantic cache is shared with: only turns that saw the same, and never a private document.</summary>
public class SemanticCacheScopeTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    private static int _names;

    private async Task<string> AssistantAsync(string scope = "assistant") =>
        (await (await api.AdminClient().PostAsJsonAsync("/v1/assistants", new
        {
            name = $"Scoped {Interlocked.Increment(ref _names)}", instructions = "Answer briefly.", model = "fake-gpt",
            settings = new { cache = new { similarity_threshold = 0.95, ttl_seconds = 3600, scope } },
        })).ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");

    /// <summary>Asks and returns whether the upstream was called (a miss) and the done event.</summary>
    private async Task<bool> MissesAsync(string user, object body)
    {
        api.Upstream.Script = new FakeScript();
        var before = api.Upstream.Requests.Count;
        var response = await api.SocketClient(Tokens.For(user)).SendAsync(ChatApiFactory.Post("/v1/chat/stream", body), HttpCompletionOption.ResponseHeadersRead);
        var events = await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        events[^1].Json.GetProperty("completed").GetBoolean().Should().BeTrue();
        return api.Upstream.Requests.Count > before;
    }

    private Task<long> EntriesAsync(string assistant) =>
        api.ScalarAsync<long>("SELECT count(*) FROM semantic_cache WHERE assistant_id = @id::uuid", new { id = assistant })!;

    [Fact]
    public async Task AnAnswerBuiltOnTheSessionsOwnDocument_IsNotCached_EvenWhenTheDocumentIsDeletedWhileItStreams()
    {
        var assistant = await AssistantAsync();
        var client = api.SocketClient(Tokens.For("private-doc-owner"));
        var session = (await (await client.PostAsJsonAsync("/v1/chat/sessions", new { title = "mine", assistant_id = assistant })).ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");
        var file = (await (await client.PostAsync($"/v1/chat/sessions/{session}/upload", Uploads.Form(UploadPdfTests.Handbook(), "private.pdf")))
            .ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("file").Str("id");
        api.Upstream.Script = new FakeScript { Chunks = ["From", " your", " own", " file."], Delay = TimeSpan.FromMilliseconds(200) };

        var response = await client.SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "When do the offices open in the morning?", session_id = session }),
            HttpCompletionOption.ResponseHeadersRead);
        var reader = new SseReader(await response.Content.ReadAsStreamAsync());
        var sources = (await reader.NextAsync())!.Event == "session" ? (await reader.NextAsync())! : null;
        sources!.Json.GetProperty("sources").EnumerateArray().Select(s => s.Str("source")).Should().Contain("session");
        (await client.DeleteAsync($"/v1/files/{file}")).StatusCode.Should().Be(HttpStatusCode.NoContent);
        var rest = await reader.ReadAllAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);

        rest[^1].Json.GetProperty("completed").GetBoolean().Should().BeTrue();
        (await EntriesAsync(assistant)).Should().Be(0, "the answer quoted the session's own document");
    }

    [Fact]
    public async Task AnotherTemperature_OrAnotherEarlierTurn_IsAnotherScope()
    {
        var assistant = await AssistantAsync();
        const string question = "What is the capital of the fleet?";
        (await MissesAsync("sampler", new { query = question, assistant_id = assistant, temperature = 2.0 })).Should().BeTrue();
        (await MissesAsync("sampler", new { query = question, assistant_id = assistant })).Should().BeTrue("a temperature-2 answer is not served at the default");
        (await MissesAsync("sampler", new { query = question, assistant_id = assistant })).Should().BeFalse("the same scope hits");

        object Turn(string role, string content) => new { role, content };
        object[] Earlier(string first) => [Turn("user", first), Turn("assistant", "a"), Turn("user", "b"), Turn("assistant", "c"), Turn("user", "d"), Turn("assistant", "e")];
        (await MissesAsync("sampler", new { messages = Earlier("first one").Append(Turn("user", question)), assistant_id = assistant })).Should().BeTrue();
        (await MissesAsync("sampler", new { messages = Earlier("another first").Append(Turn("user", question)), assistant_id = assistant }))
            .Should().BeTrue("the model saw another conversation, though its last four turns are the same");
    }

    [Fact]
    public async Task ATurnOfferingTools_IsNeitherAnsweredFromTheCacheNorCached()
    {
        var assistant = await AssistantAsync();
        const string question = "What is the weather in Lisbon?";
        var tools = new[] { new { type = "function", function = new { name = "get_weather" } } };

        (await MissesAsync("tool-asker", new { query = question, assistant_id = assistant, tools })).Should().BeTrue();
        (await MissesAsync("tool-asker", new { query = question, assistant_id = assistant, tools })).Should().BeTrue("the model may call a tool this time");
        (await EntriesAsync(assistant)).Should().Be(0);
        (await MissesAsync("tool-asker", new { query = question, assistant_id = assistant })).Should().BeTrue();
        (await MissesAsync("tool-asker", new { query = question, assistant_id = assistant })).Should().BeFalse("without tools the same question is cached");
    }

    [Fact]
    public async Task WithCacheScopeUser_EachUserHasTheirOwnEntries()
    {
        var assistant = await AssistantAsync(scope: "user");
        const string question = "How do I reset my password?";

        (await MissesAsync("alice", new { query = question, assistant_id = assistant })).Should().BeTrue();
        (await MissesAsync("bob", new { query = question, assistant_id = assistant })).Should().BeTrue("Alice's answer is hers");
        (await MissesAsync("alice", new { query = question, assistant_id = assistant })).Should().BeFalse();
        var settings = await (await api.AdminClient().GetAsync($"/v1/assistants/{assistant}")).ShouldBeJsonAsync(HttpStatusCode.OK);
        settings.GetProperty("settings").GetProperty("cache").Str("scope").Should().Be("user");
    }

    [Fact]
    public async Task AnAssistantsKnowledgeDocument_IsNotAddressableById_ByItsUsers()
    {
        var assistant = await AssistantAsync();
        var knowledge = (await (await api.AdminClient().PostAsync($"/v1/assistants/{assistant}/documents", Uploads.Form(UploadPdfTests.Handbook())))
            .ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");

        var whole = await api.SocketClient(Tokens.For("curious")).PostAsJsonAsync("/v1/chat/stream",
            new { query = "Print it all", assistant_id = assistant, context_mode = "document", document_ids = new[] { knowledge }, stream = false });
        var attached = await api.SocketClient(Tokens.For("curious")).PostAsJsonAsync("/v1/chat/stream",
            new { query = "Print it all", assistant_id = assistant, context_mode = "attachment", attachment_config = new { attachments = new[] { new { document_id = knowledge } } }, stream = false });

        await whole.ShouldBeProblemAsync(HttpStatusCode.NotFound);
        await attached.ShouldBeProblemAsync(HttpStatusCode.NotFound);
    }
}
