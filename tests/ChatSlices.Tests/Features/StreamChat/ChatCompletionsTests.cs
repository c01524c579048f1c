using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using ChatSlices.Tests.Support;
using OpenAI.Chat;

namespace ChatSlices.Tests.Features.StreamChat;

/// <summary>The official OpenAI .NET SDK, pointed at ChatSlices, must work as it does against OpenAI.</summary>
public class ChatCompletionsTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    private ChatClient Sdk(string model, string? token = null) => new(model, new ApiKeyCredential(token ?? Tokens.For("sdk-user")), api.OpenAiOptions());

    [Fact]
    public async Task OpenAiSdk_NonStreaming_GetsTheTextAndUsage()
    {
        api.Upstream.Script = new FakeScript();

        ChatCompletion completion = await Sdk("fake-gpt").CompleteChatAsync([new UserChatMessage("Hi there")]);

        completion.Content[0].Text.Should().Be("Hello from the fake model.");
        completion.FinishReason.Should().Be(ChatFinishReason.Stop);
        completion.Usage.InputTokenCount.Should().Be(11);
        completion.Usage.OutputTokenCount.Should().Be(7);
        completion.Model.Should().Be("fake-gpt");
    }

    [Fact]
    public async Task OpenAiSdk_Streaming_GetsTheTextAndUsage_AndTheTurnIsStored()
    {
        api.Upstream.Script = new FakeScript();
        var text = new StringBuilder();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;

        await foreach (var update in Sdk("fake-gpt").CompleteChatStreamingAsync([new SystemChatMessage("Be nice."), new UserChatMessage("Stream to me")]))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            usage ??= update.Usage;
            finish ??= update.FinishReason;
        }

        text.ToString().Should().Be("Hello from the fake model.");
        finish.Should().Be(ChatFinishReason.Stop);
        usage!.TotalTokenCount.Should().Be(18);
        api.Upstream.Requests.Last().Body["stream_options"]!["include_usage"]!.GetValue<bool>().Should().BeTrue("usage is asked of the upstream");
        (await api.ScalarAsync<long>("SELECT count(*) FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id WHERE s.user_id = 'sdk-user' AND m.content = 'Stream to me'"))
            .Should().Be(1);
    }

    private static bool Finished(JsonElement chunk) =>
        chunk.TryGetProperty("choices", out var choices) && choices.GetArrayLength() > 0 && choices[0].GetProperty("finish_reason").ValueKind == JsonValueKind.String;

    private static bool HasUsage(JsonElement chunk) => chunk.TryGetProperty("usage", out var usage) && usage.ValueKind != JsonValueKind.Null;

    private static string? Content(JsonElement chunk) =>
        chunk.TryGetProperty("choices", out var choices) && choices.GetArrayLength() > 0
        && choices[0].GetProperty("delta").TryGetProperty("content", out var content) ? content.GetString() : null;

    private async Task<List<JsonElement>> StreamChunksAsync(string body)
    {
        var response = await api.SocketClient().PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var events = await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync();
        events[^1].Data.Should().Be("[DONE]");
        return events.SkipLast(1).Select(e => e.Json).ToList();
    }

    [Fact]
    public async Task SessionId_ContinuesThatSession_AndEveryAnswerNamesIt()
    {
        api.Upstream.Script = new FakeScript();
        var client = api.SocketClient(Tokens.For("completions-session-user"));
        var first = await client.PostAsync("/v1/chat/completions", new StringContent(
            """{"model": "fake-gpt", "messages": [{"role": "user", "content": "First question"}]}""", Encoding.UTF8, "application/json"));
        var sessionId = JsonDocument.Parse(await first.Content.ReadAsStringAsync()).RootElement.Str("session_id");

        var second = await client.PostAsync("/v1/chat/completions", new StringContent(
            $$"""{"model": "fake-gpt", "session_id": "{{sessionId}}", "messages": [{"role": "user", "content": "Second question"}]}""", Encoding.UTF8, "application/json"));

        second.StatusCode.Should().Be(HttpStatusCode.OK);
        JsonDocument.Parse(await second.Content.ReadAsStringAsync()).RootElement.Str("session_id").Should().Be(sessionId);
        (await api.ScalarAsync<string>("SELECT string_agg(role || ':' || content, ' | ' ORDER BY created_at) FROM chat_messages WHERE session_id = @id::uuid", new { id = sessionId }))
            .Should().Be("user:First question | assistant:Hello from the fake model. | user:Second question | assistant:Hello from the fake model.");
    }

    [Fact]
    public async Task UpstreamCutMidStream_EndsWithAnOpenAiErrorChunk_ThenDone_WithoutAFinishChunk()
    {
        var script = api.Upstream.Script = new FakeScript { Chunks = ["a", "b", "c", "d"], FailAfterChunks = 2 };
        var response = await api.SocketClient().SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model": "fake-gpt", "stream": true, "messages": [{"role": "user", "content": "Break"}]}""", Encoding.UTF8, "application/json"),
        }, HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var reader = new SseReader(await response.Content.ReadAsStreamAsync());
        var chunks = new List<JsonElement>();
        // The fake cuts the connection once "a" and "b" have come through the service.
        while (chunks.Count(c => Content(c) is "a" or "b") < 2 && await reader.NextAsync() is { } e) chunks.Add(e.Json);
        script.Cut.SetResult();
        var rest = await reader.ReadAllAsync();
        rest[^1].Data.Should().Be("[DONE]");
        chunks.AddRange(rest.SkipLast(1).Select(e => e.Json));

        chunks.Where(c => c.TryGetProperty("choices", out var choices) && choices.GetArrayLength() > 0).Select(Content)
            .Should().Equal("", "a", "b");
        var error = chunks[^1].GetProperty("error");
        error.Str("code").Should().Be("provider_connection_lost");
        error.Str("type").Should().Be("server_error");
        chunks.Should().NotContain(c => Finished(c), "the reply did not finish");
    }

    [Fact]
    public async Task StreamWithoutIncludeUsage_SendsNoUsageChunk()
    {
        api.Upstream.Script = new FakeScript();

        var chunks = await StreamChunksAsync("""{"model": "fake-gpt", "stream": true, "messages": [{"role": "user", "content": "No usage please"}]}""");

        chunks.Should().NotBeEmpty().And.NotContain(c => HasUsage(c));
        chunks[^1].GetProperty("choices")[0].Str("finish_reason").Should().Be("stop");
    }

    [Fact]
    public async Task UnknownModel_IsAnOpenAiShapedError()
    {
        var response = await api.SocketClient().PostAsync("/v1/chat/completions",
            new StringContent("""{"model": "nope", "messages": [{"role": "user", "content": "x"}]}""", Encoding.UTF8, "application/json"));

        response.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        error.GetProperty("code").GetString().Should().Be("model_not_found");
        error.GetProperty("type").GetString().Should().Be("invalid_request_error");
        error.GetProperty("message").GetString().Should().Contain("nope");
    }

    [Theory]
    [InlineData("{\"model\": ", HttpStatusCode.BadRequest)]
    [InlineData("""{"model": "fake-gpt", "messages": [{"role": "user", "content": "x"}], "temperature": 3}""", HttpStatusCode.UnprocessableEntity)]
    public async Task BadRequests_AreOpenAiShapedErrors(string body, HttpStatusCode status)
    {
        var response = await api.SocketClient().PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));

        response.StatusCode.Should().Be(status);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        error.GetProperty("message").GetString().Should().NotBeNullOrWhiteSpace();
        error.GetProperty("type").GetString().Should().Be("invalid_request_error");
    }

    [Fact]
    public async Task InvalidToken_IsAnOpenAiShaped401()
    {
        var sdk = Sdk("fake-gpt", token: "not-a-jwt");

        var call = () => sdk.CompleteChatAsync([new UserChatMessage("x")]);

        (await call.Should().ThrowAsync<ClientResultException>()).Which.Status.Should().Be(401);
        var response = await api.SocketClient("not-a-jwt").PostAsync("/v1/chat/completions", new StringContent("{}", Encoding.UTF8, "application/json"));
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("type").GetString().Should().Be("authentication_error");
    }
}
