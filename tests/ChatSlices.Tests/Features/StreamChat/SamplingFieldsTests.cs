using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatSlices.Tests.Support;
using OpenAI.Chat;

namespace ChatSlices.Tests.Features.StreamChat;

/// <summary>OpenAI's sampling and format fields reach the model as they were sent; the ones out of bounds are 422s that name them.</summary>
public class SamplingFieldsTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    [Fact]
    public async Task EveryAcceptedField_OnChatCompletions_IsSeenByTheModelWithItsValue()
    {
        api.Upstream.Script = new FakeScript();
        var response = await api.SocketClient().PostAsync("/v1/chat/completions", Json("""
            {"model": "fake-gpt", "messages": [{"role": "user", "content": "Answer in JSON"}],
             "top_p": 0.5, "stop": ["END", "STOP"], "seed": 42, "presence_penalty": 0.25, "frequency_penalty": -0.5,
             "logit_bias": {"50256": -100, "1234": 5}, "response_format": {"type": "json_object"}, "n": 1, "user": "user-77",
             "max_completion_tokens": 99}
            """));

        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var sent = api.Upstream.Requests.Last().Body;
        sent["top_p"]!.GetValue<double>().Should().Be(0.5);
        sent["stop"]!.AsArray().Select(s => s!.GetValue<string>()).Should().Equal("END", "STOP");
        sent["seed"]!.GetValue<long>().Should().Be(42);
        sent["presence_penalty"]!.GetValue<double>().Should().Be(0.25);
        sent["frequency_penalty"]!.GetValue<double>().Should().Be(-0.5);
        sent["logit_bias"]!.AsObject().ToDictionary(b => b.Key, b => b.Value!.GetValue<int>())
            .Should().BeEquivalentTo(new Dictionary<string, int> { ["50256"] = -100, ["1234"] = 5 });
        sent["response_format"]!["type"]!.GetValue<string>().Should().Be("json_object");
        sent["user"]!.GetValue<string>().Should().Be("user-77");
        (sent["max_completion_tokens"] ?? sent["max_tokens"])!.GetValue<int>().Should().Be(99);
    }

    [Fact]
    public async Task AJsonSchemaResponseFormat_FromTheOpenAiSdk_ReachesTheModelWhole()
    {
        api.Upstream.Script = new FakeScript();
        var sdk = new ChatClient("fake-gpt", new ApiKeyCredential(Tokens.For("schema-user")), api.OpenAiOptions());
        var schema = BinaryData.FromString("""{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false}""");

        await sdk.CompleteChatAsync([new UserChatMessage("Where?")], new ChatCompletionOptions
        {
            ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("place", schema, jsonSchemaIsStrict: true),
            TopP = 0.9f,
#pragma warning disable OPENAI001 // seed is marked experimental in the SDK; the wire field is what is tested
            Seed = 7,
#pragma warning restore OPENAI001
        });

        var sent = api.Upstream.Requests.Last().Body;
        sent["response_format"]!["type"]!.GetValue<string>().Should().Be("json_schema");
        sent["response_format"]!["json_schema"]!["name"]!.GetValue<string>().Should().Be("place");
        sent["response_format"]!["json_schema"]!["strict"]!.GetValue<bool>().Should().BeTrue();
        JsonNode.DeepEquals(sent["response_format"]!["json_schema"]!["schema"], JsonNode.Parse(schema.ToString())).Should().BeTrue();
        sent["top_p"]!.GetValue<double>().Should().BeApproximately(0.9, 1e-6);
        sent["seed"]!.GetValue<long>().Should().Be(7);
    }

    [Fact]
    public async Task TheSameFields_OnTheStreamRoute_ReachTheModel()
    {
        api.Upstream.Script = new FakeScript();
        var response = await api.SocketClient().PostAsync("/v1/chat/stream", Json("""
            {"query": "Hello", "stream": false, "top_p": 0.3, "stop": "DONE", "seed": 5, "user": "u-5"}
            """));

        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var sent = api.Upstream.Requests.Last().Body;
        sent["top_p"]!.GetValue<double>().Should().Be(0.3);
        sent["stop"]!.AsArray().Select(s => s!.GetValue<string>()).Should().Equal("DONE");
        sent["seed"]!.GetValue<long>().Should().Be(5);
        sent["user"]!.GetValue<string>().Should().Be("u-5");
    }

    [Fact]
    public async Task TheUserField_IsRecordedOnTheTurn_AndShownWithItsMessage()
    {
        api.Upstream.Script = new FakeScript();
        var client = api.SocketClient(Tokens.For("end-user-owner"));
        var answer = await (await client.PostAsync("/v1/chat/completions", Json("""
            {"model": "fake-gpt", "messages": [{"role": "user", "content": "Hello"}], "user": "customer-1234"}
            """))).ShouldBeJsonAsync(HttpStatusCode.OK);

        var session = await (await client.GetAsync($"/v1/chat/sessions/{answer.Str("session_id")}")).ShouldBeJsonAsync(HttpStatusCode.OK);
        var messages = session.GetProperty("messages").EnumerateArray().ToList();
        messages.Select(m => m.Str("role")).Should().Equal("user", "assistant");
        messages[0].Str("end_user").Should().Be("customer-1234");
        messages[1].GetProperty("end_user").ValueKind.Should().Be(JsonValueKind.Null);
    }

    [Theory]
    [InlineData("\"n\": 2", "n")]
    [InlineData("\"top_p\": 1.5", "top_p")]
    [InlineData("\"presence_penalty\": 3", "presence_penalty")]
    [InlineData("\"frequency_penalty\": -2.5", "frequency_penalty")]
    [InlineData("\"stop\": [\"a\", \"b\", \"c\", \"d\", \"e\"]", "stop")]
    [InlineData("\"stop\": 5", "stop")]
    [InlineData("\"logit_bias\": {\"not-a-token\": 1}", "logit_bias")]
    [InlineData("\"logit_bias\": {\"12\": 101}", "logit_bias")]
    [InlineData("\"response_format\": {\"type\": \"yaml\"}", "response_format.type")]
    [InlineData("\"response_format\": {\"type\": \"json_schema\"}", "response_format.json_schema")]
    public async Task AFieldOutOfBounds_IsA422NamingIt_AndNothingReachesTheModel(string field, string name)
    {
        var before = api.Upstream.Requests.Count;
        var response = await api.SocketClient().PostAsync("/v1/chat/completions",
            Json($$"""{"model": "fake-gpt", "messages": [{"role": "user", "content": "x"}], {{field}}}"""));

        response.StatusCode.Should().Be(HttpStatusCode.UnprocessableEntity);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        error.GetProperty("message").GetString().Should().Contain(name);
        api.Upstream.Requests.Count.Should().Be(before);
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}
