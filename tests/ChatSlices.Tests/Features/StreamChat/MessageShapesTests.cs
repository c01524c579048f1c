using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using ChatSlices.Tests.Support;
using OpenAI.Chat;

namespace ChatSlices.Tests.Features.StreamChat;

/// <summary>The message shapes current OpenAI SDKs send: the developer role and content as an array of parts.</summary>
public class MessageShapesTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    [Fact]
    public async Task TheOpenAiSdk_WithADeveloperMessageAndTextParts_IsAnswered_AndTheModelSeesThem()
    {
        api.Upstream.Script = new FakeScript();
        var sdk = new ChatClient("fake-gpt", new ApiKeyCredential(Tokens.For("shapes-user")), api.OpenAiOptions());

#pragma warning disable OPENAI001 // the SDK marks the developer role experimental; current SDKs send it all the same
        ChatCompletion completion = await sdk.CompleteChatAsync([
            new DeveloperChatMessage("Answer like a pirate."),
            new UserChatMessage(ChatMessageContentPart.CreateTextPart("First part."), ChatMessageContentPart.CreateTextPart("Second part.")),
        ]);
#pragma warning restore OPENAI001

        completion.Content[0].Text.Should().Be("Hello from the fake model.");
        var sent = api.Upstream.Requests.Last().Body["messages"]!.AsArray();
        sent.First()!["role"]!.GetValue<string>().Should().Be("system");
        sent.First()!["content"]!.ToString().Should().Contain("Answer like a pirate.");
        sent.Last()!["role"]!.GetValue<string>().Should().Be("user");
        sent.Last()!["content"]!.ToString().Should().Be("First part.\nSecond part.");
    }

    [Theory]
    [InlineData("""[{"type": "image_url", "image_url": {"url": "https://example.org/a.png"}}]""", "Vision")]
    [InlineData("""[{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]""", "http(s) URL")]
    [InlineData("""[{"type": "input_audio", "input_audio": {"data": "", "format": "wav"}}]""", "input_audio")]
    [InlineData("""[{"type": "text"}]""", "text")]
    [InlineData("""42""", "string or an array")]
    public async Task AContentTheServiceCannotTake_IsA422OnThatMessage(string content, string says)
    {
        var before = api.Upstream.Requests.Count;
        var response = await api.SocketClient().PostAsync("/v1/chat/completions", new StringContent(
            $$"""{"model": "fake-gpt", "messages": [{"role": "user", "content": {{content}}}]}""", Encoding.UTF8, "application/json"));

        response.StatusCode.Should().Be(HttpStatusCode.UnprocessableEntity);
        var message = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("message").GetString();
        message.Should().Contain("messages[0].content").And.Contain(says);
        api.Upstream.Requests.Count.Should().Be(before);
    }
}
