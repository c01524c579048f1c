using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.StreamChat;

public class StreamChatValidationTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    private static JsonArray Turns(int count, string content = "x") =>
        new(Enumerable.Range(0, count).Select(_ => (JsonNode)new JsonObject { ["role"] = "user", ["content"] = content }).ToArray());

    public static TheoryData<string, string> InvalidBodies() => new()
    {
        { "{}", "query" },
        { """{"query": ""}""", "query" },
        { new JsonObject { ["query"] = new string('q', 10_001) }.ToJsonString(), "query" },
        { """{"query": "x", "messages": [{"role": "user", "content": "x"}]}""", "messages" },
        { """{"messages": []}""", "messages" },
        { """{"messages": [{"role": "bot", "content": "x"}]}""", "messages[0].role" },
        { """{"messages": [{"role": "user", "content": ""}]}""", "messages[0].content" },
        { """{"messages": [{"role": "assistant", "content": "x"}]}""", "messages" },
        { new JsonObject { ["query"] = "x", ["history"] = Turns(51) }.ToJsonString(), "history" },
        { """{"query": "x", "history": [{"role": "user", "content": ""}]}""", "history[0].content" },
        { """{"query": "x", "temperature": 2.5}""", "temperature" },
        { """{"query": "x", "temperature": -0.1}""", "temperature" },
        { """{"query": "x", "max_tokens": 0}""", "max_tokens" },
        { """{"query": "x", "max_tokens": 8193}""", "max_tokens" },
        { """{"query": "x", "context_mode": "magic"}""", "context_mode" },
        { """{"query": "x", "stream_format": "words"}""", "stream_format" },
        { new JsonObject { ["query"] = "x", ["document_ids"] = new JsonArray(Enumerable.Range(0, 21).Select(_ => (JsonNode)Guid.NewGuid().ToString()).ToArray()) }.ToJsonString(), "document_ids" },
        { """{"query": "x", "rag_config": {"retrieval_strategy": "random"}}""", "rag_config.retrieval_strategy" },
        { """{"query": "x", "rag_config": {"max_total_results": 51}}""", "rag_config.max_total_results" },
        { """{"query": "x", "rag_config": {"sources": [{"name": "session", "limit": 0}]}}""", "rag_config.sources[0].limit" },
        { """{"query": "x", "rag_config": {"sources": [{"name": "session", "similarity_threshold": 1.5}]}}""", "rag_config.sources[0].similarity_threshold" },
        { """{"query": "x", "rag_config": {"sources": [{"name": "session", "weight": 2.5}]}}""", "rag_config.sources[0].weight" },
        { """{"query": "x", "rag_config": {"sources": [{"limit": 5}]}}""", "rag_config.sources[0].name" },
        { new JsonObject { ["query"] = "x", ["rag_config"] = new JsonObject { ["sources"] = new JsonArray(Enumerable.Range(0, 11).Select(_ => (JsonNode)new JsonObject { ["name"] = "session", ["limit"] = 50 }).ToArray()) } }.ToJsonString(), "rag_config.sources" },
        { new JsonObject { ["messages"] = new JsonArray(new JsonObject { ["role"] = "system", ["content"] = new string('s', 20_001) }, new JsonObject { ["role"] = "user", ["content"] = "x" }) }.ToJsonString(), "messages[0].content" },
        { new JsonObject { ["query"] = "x", ["history"] = new JsonArray(new JsonObject { ["role"] = "assistant", ["content"] = new string('a', 100_001) }) }.ToJsonString(), "history[0].content" },
        { new JsonObject { ["query"] = "x", ["model"] = "tiny-gpt", ["system_prompt"] = new string('s', 2_000) }.ToJsonString(), "system_prompt" },
        { new JsonObject { ["query"] = "x", ["attachment_config"] = new JsonObject { ["attachments"] = new JsonArray(Enumerable.Range(0, 21).Select(_ => (JsonNode)new JsonObject { ["document_id"] = Guid.NewGuid().ToString() }).ToArray()) } }.ToJsonString(), "attachment_config.attachments" },
        { $$"""{"query": "x", "session_id": "{{Guid.NewGuid()}}", "conversation_id": "{{Guid.NewGuid()}}"}""", "conversation_id" },
        { """{"query": "x", "model": "fake-gpt", "llm_model": "tiny-gpt"}""", "llm_model" },
        { new JsonObject { ["messages"] = Turns(52) }.ToJsonString(), "messages" },
        { new JsonObject { ["messages"] = Turns(1, new string('m', 10_001)) }.ToJsonString(), "messages" },
        { """{"query": "x", "system_prompt": ""}""", "system_prompt" },
        { """{"query": "x", "embedding_model": ""}""", "embedding_model" },
        { $$"""{"query": "x", "prompt_id": "{{Guid.NewGuid()}}"}""", "prompt_id" },
        { """{"query": "x", "rag_config": {"max_total_results": 0}}""", "rag_config.max_total_results" },
        { """{"query": "x", "rag_config": {"sources": [{"name": "session", "limit": 51}]}}""", "rag_config.sources[0].limit" },
        { """{"query": "x", "rag_config": {"sources": [{"name": "session", "weight": -0.1}]}}""", "rag_config.sources[0].weight" },
        { """{"query": "x", "attachment_config": {"attachments": [{"title": "no id"}]}}""", "attachment_config.attachments[0].document_id" },
        { $$$"""{"query": "x", "attachment_config": {"attachments": [{"document_id": "{{{Guid.NewGuid()}}}", "max_tokens": 0}]}}""", "attachment_config.attachments[0].max_tokens" },
    };

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task InvalidField_Is422_NamingTheField(string body, string field)
    {
        var response = await api.SocketClient().PostAsync("/v1/chat/stream", new StringContent(body, Encoding.UTF8, "application/json"));

        var problem = await response.ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
        problem.GetProperty("errors").TryGetProperty(field, out _).Should().BeTrue($"the error names {field}: {problem}");
        api.Upstream.Requests.Should().BeEmpty("nothing reaches the model");
    }

    [Theory]
    [InlineData("{\"query\": ")]
    [InlineData("not json")]
    [InlineData("{\"query\": \"x\", \"temperature\": \"hot\"}")]
    [InlineData("{\"query\": \"x\", \"session_id\": \"not-a-uuid\"}")]
    public async Task MalformedJson_Is400Problem(string body)
    {
        var response = await api.SocketClient().PostAsync("/v1/chat/stream", new StringContent(body, Encoding.UTF8, "application/json"));

        await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task WrongContentType_Is415Problem()
    {
        var response = await api.SocketClient().PostAsync("/v1/chat/stream", new StringContent("query=hi", Encoding.UTF8, "application/x-www-form-urlencoded"));

        await response.ShouldBeProblemAsync(HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task OversizedBody_Is413Problem()
    {
        // Announce a 12 MiB body and send only its start: the service refuses on the announced length.
        using var socket = new System.Net.Sockets.TcpClient();
        await socket.ConnectAsync(api.ServerAddress.Host, api.ServerAddress.Port);
        var stream = socket.GetStream();
        var head = $"POST /v1/chat/stream HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {12 * 1024 * 1024}\r\n\r\n{{\"query\": \"";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));

        var reply = new StringBuilder();
        var buffer = new byte[4096];
        int read;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!reply.ToString().Contains("trace_id") && (read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            reply.Append(Encoding.UTF8.GetString(buffer, 0, read));

        var text = reply.ToString();
        text.Should().StartWith("HTTP/1.1 413").And.Contain("application/problem+json").And.Contain("\"status\":413");
    }

    [Fact]
    public async Task UnknownModel_Is400()
    {
        var response = await api.SocketClient().PostAsJsonAsync("/v1/chat/stream", new { query = "x", model = "gpt-imaginary" });

        var problem = await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest);
        problem.GetProperty("code").GetString().Should().Be("model_not_found");
    }

    [Fact]
    public async Task EmbeddingModelAsChatModel_Is400()
    {
        var response = await api.SocketClient().PostAsJsonAsync("/v1/chat/stream", new { query = "x", llm_model = "local-embed" });

        await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task UnknownEmbeddingModel_Is400()
    {
        var response = await api.SocketClient().PostAsJsonAsync("/v1/chat/stream", new { query = "x", embedding_model = "nope" });

        await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task UnknownSession_Is404()
    {
        var response = await api.SocketClient(Tokens.For("v-user")).PostAsJsonAsync("/v1/chat/stream", new { query = "x", session_id = Guid.NewGuid() });

        await response.ShouldBeProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task UnknownAssistant_Is404()
    {
        var response = await api.SocketClient().PostAsJsonAsync("/v1/chat/stream", new { query = "x", assistant_id = Guid.NewGuid() });

        await response.ShouldBeProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task SeveralUnknownReferences_Are404_NamingTheFirstCheckedOfSessionAssistantPromptDocument()
    {
        var client = api.SocketClient(Tokens.For("v-refs"));
        var created = await client.PostAsJsonAsync("/v1/chat/stream", new { query = "first", model = "local-chat", stream = false });
        var sessionId = (await created.Content.ReadFromJsonAsync<JsonObject>())!["session_id"]!.GetValue<string>();
        Guid Unknown() => Guid.NewGuid();

        (object Body, string Named)[] cases =
        [
            (new { session_id = Unknown(), assistant_id = Unknown(), prompt_id = Unknown(), document_ids = new[] { Unknown() } }, "Session"),
            (new { session_id = sessionId, assistant_id = Unknown(), prompt_id = Unknown(), document_ids = new[] { Unknown() } }, "Assistant"),
            (new { session_id = sessionId, prompt_id = Unknown(), document_ids = new[] { Unknown() } }, "Prompt"),
            (new { query = "x", session_id = sessionId, document_ids = new[] { Unknown() } }, "Document"),
        ];
        foreach (var (body, named) in cases)
        {
            var problem = await (await client.PostAsJsonAsync("/v1/chat/stream", body)).ShouldBeProblemAsync(HttpStatusCode.NotFound);
            problem.GetProperty("detail").GetString().Should().Be($"{named} was not found.");
        }
        (await api.ScalarAsync<long>("SELECT count(*) FROM chat_messages WHERE session_id = @id::uuid", new { id = sessionId })).Should().Be(2);
    }

    [Fact]
    public async Task AnotherUsersSession_Is404_ForThemAndForGuests_AndNothingIsStored()
    {
        var owner = api.SocketClient(Tokens.For("owner"));
        var created = await owner.PostAsJsonAsync("/v1/chat/stream", new { query = "private", model = "local-chat", stream = false });
        var sessionId = (await created.Content.ReadFromJsonAsync<JsonObject>())!["session_id"]!.GetValue<string>();

        foreach (var intruder in new[] { api.SocketClient(Tokens.For("intruder")), api.SocketClient() })
        {
            var response = await intruder.PostAsJsonAsync("/v1/chat/stream", new { query = "let me in", session_id = sessionId, model = "local-chat" });
            await response.ShouldBeProblemAsync(HttpStatusCode.NotFound);
        }
        (await api.ScalarAsync<long>("SELECT count(*) FROM chat_messages WHERE session_id = @id::uuid", new { id = sessionId })).Should().Be(2);
    }

    [Fact]
    public async Task GuestSession_CanBeContinuedByItsId()
    {
        var guest = api.SocketClient();
        var created = await guest.PostAsJsonAsync("/v1/chat/stream", new { query = "first", model = "local-chat", stream = false });
        var sessionId = (await created.Content.ReadFromJsonAsync<JsonObject>())!["session_id"]!.GetValue<string>();

        var next = await guest.PostAsJsonAsync("/v1/chat/stream", new { query = "second", conversation_id = sessionId, model = "local-chat", stream = false });

        next.StatusCode.Should().Be(HttpStatusCode.OK);
        (await api.ScalarAsync<long>("SELECT count(*) FROM chat_messages WHERE session_id = @id::uuid", new { id = sessionId })).Should().Be(4);
        (await api.ScalarAsync<bool>("SELECT user_id IS NULL FROM chat_sessions WHERE id = @id::uuid", new { id = sessionId })).Should().BeTrue();
    }
}
