using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatSlices.Tests.Support;
using OpenAI.Chat;

namespace ChatSlices.Tests.Features.StreamChat;

/// <summary>
/// OpenAI's tool calling through the service, from the official OpenAI SDK unchanged: the tools reach the model as sent,
/// the model's calls come back (streamed piece by piece, or whole), and the tools' answers go back to the model.
/// </summary>
public class ToolCallsTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    private const string Arguments = """{"city": "Paris", "unit": "celsius"}""";
    private static readonly FakeToolCall WeatherCall = new("call_weather_1", "get_weather", Arguments);
    private static readonly BinaryData WeatherParameters = BinaryData.FromString(
        """{"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"], "additionalProperties": false}""");

    private ChatClient Sdk(string model = "fake-gpt", string user = "tool-user") => new(model, new ApiKeyCredential(Tokens.For(user)), api.OpenAiOptions());

    private static ChatCompletionOptions WithWeatherTool() => new()
    {
        Tools = { ChatTool.CreateFunctionTool("get_weather", "The weather in a city now.", WeatherParameters, functionSchemaIsStrict: true) },
        ToolChoice = ChatToolChoice.CreateAutoChoice(),
        AllowParallelToolCalls = false,
    };

    [Fact]
    public async Task TheOpenAiSdk_Streaming_ToolCallRoundTrip_RelaysTheCallPieceByPiece_AndSendsTheAnswerBack()
    {
        api.Upstream.Script = new FakeScript { Chunks = [], ToolCalls = [WeatherCall], ArgumentPieces = 3 };
        List<ChatMessage> conversation = [new UserChatMessage("What is the weather in Paris?")];

        var argumentPieces = new List<string>();
        string? id = null, name = null;
        ChatFinishReason? finish = null;
        await foreach (var update in Sdk().CompleteChatStreamingAsync(conversation, WithWeatherTool()))
        {
            foreach (var call in update.ToolCallUpdates)
            {
                call.Index.Should().Be(0);
                id ??= call.ToolCallId;
                name ??= call.FunctionName;
                if (call.FunctionArgumentsUpdate is { } piece && !piece.ToMemory().IsEmpty) argumentPieces.Add(piece.ToString());
            }
            finish ??= update.FinishReason;
        }

        finish.Should().Be(ChatFinishReason.ToolCalls);
        id.Should().Be("call_weather_1");
        name.Should().Be("get_weather");
        argumentPieces.Should().HaveCount(3, "the model's pieces are relayed as they come, not gathered");
        string.Concat(argumentPieces).Should().Be(Arguments);
        var offered = api.Upstream.Requests.Last().Body;
        offered["tools"]![0]!["function"]!["name"]!.GetValue<string>().Should().Be("get_weather");
        offered["tools"]![0]!["function"]!["description"]!.GetValue<string>().Should().Be("The weather in a city now.");
        offered["tools"]![0]!["function"]!["strict"]!.GetValue<bool>().Should().BeTrue();
        JsonNode.DeepEquals(offered["tools"]![0]!["function"]!["parameters"], JsonNode.Parse(WeatherParameters.ToString())).Should().BeTrue();
        offered["tool_choice"]!.GetValue<string>().Should().Be("auto");
        offered["parallel_tool_calls"]!.GetValue<bool>().Should().BeFalse();

        conversation.Add(new AssistantChatMessage([ChatToolCall.CreateFunctionToolCall(id!, name!, BinaryData.FromString(string.Concat(argumentPieces)))]));
        conversation.Add(new ToolChatMessage(id!, "18 degrees and sunny"));
        api.Upstream.Script = new FakeScript { Chunks = ["It is", " 18 degrees", " in Paris."] };
        var answer = new StringBuilder();
        await foreach (var update in Sdk().CompleteChatStreamingAsync(conversation, WithWeatherTool()))
            foreach (var part in update.ContentUpdate) answer.Append(part.Text);

        answer.ToString().Should().Be("It is 18 degrees in Paris.");
        ShouldHaveSeenTheRoundTrip(api.Upstream.Requests.Last().Body["messages"]!.AsArray());
    }

    [Fact]
    public async Task TheOpenAiSdk_NotStreaming_ToolCallRoundTrip_GetsTheWholeCall_AndSendsTheAnswerBack()
    {
        api.Upstream.Script = new FakeScript { Chunks = [], ToolCalls = [WeatherCall] };
        List<ChatMessage> conversation = [new UserChatMessage("What is the weather in Paris?")];

        ChatCompletion completion = await Sdk().CompleteChatAsync(conversation, WithWeatherTool());

        completion.FinishReason.Should().Be(ChatFinishReason.ToolCalls);
        completion.Content.Should().BeEmpty();
        completion.ToolCalls.Should().ContainSingle();
        completion.ToolCalls[0].Id.Should().Be("call_weather_1");
        completion.ToolCalls[0].FunctionName.Should().Be("get_weather");
        completion.ToolCalls[0].FunctionArguments.ToString().Should().Be(Arguments);

        conversation.Add(new AssistantChatMessage(completion));
        conversation.Add(new ToolChatMessage(completion.ToolCalls[0].Id, "18 degrees and sunny"));
        api.Upstream.Script = new FakeScript { Chunks = ["It is 18 degrees in Paris."] };
        ChatCompletion answer = await Sdk().CompleteChatAsync(conversation, WithWeatherTool());

        answer.Content[0].Text.Should().Be("It is 18 degrees in Paris.");
        answer.FinishReason.Should().Be(ChatFinishReason.Stop);
        ShouldHaveSeenTheRoundTrip(api.Upstream.Requests.Last().Body["messages"]!.AsArray());
    }

    [Fact]
    public async Task TwoCallsInOneReply_AreRelayedWithTheirOwnIndexes_InOrder()
    {
        api.Upstream.Script = new FakeScript
        {
            Chunks = [], ToolCalls = [WeatherCall, new FakeToolCall("call_time_2", "get_time", """{"zone": "Europe/Paris"}""")], ArgumentPieces = 2,
        };
        var pieces = new List<(int Index, string? Id, string Arguments)>();
        await foreach (var update in Sdk().CompleteChatStreamingAsync([new UserChatMessage("Weather and time in Paris?")], WithWeatherTool()))
            foreach (var call in update.ToolCallUpdates)
                pieces.Add((call.Index, call.ToolCallId, call.FunctionArgumentsUpdate?.ToString() ?? ""));

        pieces.Select(p => p.Index).Should().Equal(0, 0, 0, 1, 1, 1);
        pieces.Where(p => p.Id is not null).Select(p => p.Id).Should().Equal("call_weather_1", "call_time_2");
        string.Concat(pieces.Where(p => p.Index == 1).Select(p => p.Arguments)).Should().Be("""{"zone": "Europe/Paris"}""");
    }

    /// <summary>The model saw: the question, its own call (id, name and the arguments' exact text), then the tool's answer to it.</summary>
    private static void ShouldHaveSeenTheRoundTrip(JsonArray sent)
    {
        sent.Select(m => m!["role"]!.GetValue<string>()).Should().Equal("user", "assistant", "tool");
        var call = sent[1]!["tool_calls"]![0]!;
        call["id"]!.GetValue<string>().Should().Be("call_weather_1");
        call["type"]!.GetValue<string>().Should().Be("function");
        call["function"]!["name"]!.GetValue<string>().Should().Be("get_weather");
        call["function"]!["arguments"]!.GetValue<string>().Should().Be(Arguments);
        sent[2]!["tool_call_id"]!.GetValue<string>().Should().Be("call_weather_1");
        sent[2]!["content"]!.ToString().Should().Contain("18 degrees and sunny");
    }

    [Fact]
    public async Task OnTheStreamRoute_ToolCallEventsCarryThePieces_AndASessionContinuedByItsId_ReplaysTheCallsAndAnswers()
    {
        var client = api.SocketClient(Tokens.For("tool-session-user"));
        var tools = JsonDocument.Parse("""[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]""").RootElement;
        api.Upstream.Script = new FakeScript { Chunks = ["Let me look."], ToolCalls = [WeatherCall], ArgumentPieces = 2 };

        var first = await ReadEventsAsync(client, new { query = "What is the weather in Paris?", tools, tool_choice = "required" });

        var calls = first.Where(e => e.Event == "tool_call").Select(e => e.Json).ToList();
        calls.Should().HaveCount(3);
        calls[0].Str("id").Should().Be("call_weather_1");
        calls[0].Str("name").Should().Be("get_weather");
        calls.Skip(1).Should().OnlyContain(c => c.GetProperty("id").ValueKind == JsonValueKind.Null && c.GetProperty("index").GetInt32() == 0);
        string.Concat(calls.Select(c => c.Str("arguments"))).Should().Be(Arguments);
        first[^1].Json.Str("finish_reason").Should().Be("tool_calls");
        api.Upstream.Requests.Last().Body["tool_choice"]!.GetValue<string>().Should().Be("required");
        var session = first[0].Json.Str("session_id");
        var stored = await api.ScalarAsync<string>("SELECT tool_calls::text FROM chat_messages WHERE id = @id::uuid", new { id = first[0].Json.Str("message_id") });
        JsonNode.DeepEquals(JsonNode.Parse(stored!), JsonNode.Parse($$$"""[{"id": "call_weather_1", "type": "function", "function": {"name": "get_weather", "arguments": {{{JsonSerializer.Serialize(Arguments)}}}}}]""")).Should().BeTrue();

        api.Upstream.Script = new FakeScript { Chunks = ["It is 18 degrees."] };
        var second = await ReadEventsAsync(client, new { session_id = session, tools, messages = new[] { new { role = "tool", tool_call_id = "call_weather_1", content = "18 degrees and sunny" } } });
        second[^1].Json.GetProperty("completed").GetBoolean().Should().BeTrue();
        ShouldHaveSeenTheRoundTrip(new JsonArray(api.Upstream.Requests.Last().Body["messages"]!.AsArray().Where(m => m!["role"]!.GetValue<string>() != "system").Select(m => m!.DeepClone()).ToArray()));
        (await api.ScalarAsync<string>("SELECT role FROM chat_messages WHERE id = @id::uuid", new { id = second[0].Json.Str("user_message_id") })).Should().Be("tool");

        api.Upstream.Script = new FakeScript();
        await ReadEventsAsync(client, new { session_id = session, query = "And tomorrow?" });
        var third = api.Upstream.Requests.Last().Body["messages"]!.AsArray().Where(m => m!["role"]!.GetValue<string>() != "system").ToList();
        third.Select(m => m!["role"]!.GetValue<string>()).Should().Equal("user", "assistant", "tool", "assistant", "user");
        third[1]!["tool_calls"]![0]!["function"]!["arguments"]!.GetValue<string>().Should().Be(Arguments);
        third[2]!["tool_call_id"]!.GetValue<string>().Should().Be("call_weather_1");
    }

    [Fact]
    public async Task AToolAnswer_ToACallTheSessionNeverMade_IsA422NamingIt()
    {
        var client = api.SocketClient(Tokens.For("tool-orphan-user"));
        api.Upstream.Script = new FakeScript();
        var first = await ReadEventsAsync(client, new { query = "Hello" });
        var before = api.Upstream.Requests.Count;

        var response = await client.PostAsync("/v1/chat/stream", Json($$"""
            {"session_id": "{{first[0].Json.Str("session_id")}}", "messages": [{"role": "tool", "tool_call_id": "call_nobody_made", "content": "42"}]}
            """));

        var problem = await response.ShouldBeJsonAsync(HttpStatusCode.UnprocessableEntity);
        problem.GetProperty("errors").TryGetProperty("messages[0].tool_call_id", out _).Should().BeTrue(problem.ToString());
        api.Upstream.Requests.Count.Should().Be(before);
    }

    [Fact]
    public async Task TheOfflineModel_OfferedTools_SaysPlainlyThatItDoesNotCallThem()
    {
        ChatCompletion completion = await Sdk("local-chat").CompleteChatAsync([new UserChatMessage("What is the weather?")], WithWeatherTool());

        completion.FinishReason.Should().Be(ChatFinishReason.Stop);
        completion.ToolCalls.Should().BeEmpty();
        completion.Content[0].Text.Should().Contain("This model does not call tools");
    }

    [Theory]
    [InlineData("\"tools\": {\"type\": \"function\"}", "tools")]
    [InlineData("\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"has space\"}}]", "tools[0].function.name")]
    [InlineData("\"tools\": [{\"type\": \"retrieval\"}]", "tools[0]")]
    [InlineData("\"tool_choice\": \"auto\"", "tool_choice")]
    [InlineData("\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\"}}], \"tool_choice\": \"sometimes\"", "tool_choice")]
    [InlineData("\"parallel_tool_calls\": true", "parallel_tool_calls")]
    public async Task AToolFieldOutOfShape_IsA422NamingIt_AndNothingReachesTheModel(string field, string name)
    {
        var before = api.Upstream.Requests.Count;
        var response = await api.SocketClient().PostAsync("/v1/chat/completions",
            Json($$"""{"model": "fake-gpt", "messages": [{"role": "user", "content": "x"}], {{field}}}"""));

        response.StatusCode.Should().Be(HttpStatusCode.UnprocessableEntity);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        error.GetProperty("param").GetString().Should().Be(name);
        api.Upstream.Requests.Count.Should().Be(before);
    }

    [Theory]
    [InlineData("""[{"role": "user", "content": "q"}, {"role": "tool", "tool_call_id": "c1", "content": "a"}]""", "messages[1].tool_call_id")]
    [InlineData("""[{"role": "user", "content": "q", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]""", "messages[0].tool_calls")]
    [InlineData("""[{"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "function": {"name": "f"}}]}, {"role": "tool", "tool_call_id": "c1", "content": "a"}]""", "messages[0].tool_calls[0]")]
    [InlineData("""[{"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}, {"role": "tool", "content": "a"}]""", "messages[1].tool_call_id")]
    [InlineData("""[{"role": "assistant", "content": null, "tool_calls": [7]}, {"role": "tool", "tool_call_id": "c1", "content": "a"}]""", "messages[0].tool_calls[0]")]
    public async Task AToolMessageOutOfShape_IsA422NamingIt(string messages, string name)
    {
        var response = await api.SocketClient().PostAsync("/v1/chat/completions", Json($$"""{"model": "fake-gpt", "messages": {{messages}}}"""));

        response.StatusCode.Should().Be(HttpStatusCode.UnprocessableEntity);
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("param").GetString().Should().Be(name);
    }

    [Fact]
    public async Task ToolsWithTheTokensFormat_AreA422_ForTokensCarryTextOnly()
    {
        var response = await api.SocketClient().PostAsync("/v1/chat/stream", Json("""
            {"query": "x", "stream_format": "tokens", "tools": [{"type": "function", "function": {"name": "f"}}]}
            """));

        var problem = await response.ShouldBeJsonAsync(HttpStatusCode.UnprocessableEntity);
        problem.GetProperty("errors").TryGetProperty("tools", out _).Should().BeTrue();
    }

    private static async Task<List<SseEvent>> ReadEventsAsync(HttpClient client, object body)
    {
        var response = await client.SendAsync(ChatApiFactory.Post("/v1/chat/stream", body), HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync(SseReader.Deadline());
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}
