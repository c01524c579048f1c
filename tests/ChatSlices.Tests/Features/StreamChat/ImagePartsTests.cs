using System.ClientModel;
using System.Net;
using System.Text.Json;
using ChatSlices.Tests.Support;
using OpenAI.Chat;

namespace ChatSlices.Tests.Features.StreamChat;

/// <summary>The chat service with a catalog model that takes images (<c>Vision: true</c>), besides those that do not.</summary>
public class VisionApiFactory : ChatApiFactory
{
    public VisionApiFactory() =>
        With("Models:5:Id", "vision-gpt").With("Models:5:Provider", "openai").With("Models:5:ProviderModel", "gpt-vision-fake").With("Models:5:Vision", "true");
}

/// <summary><c>image_url</c> content parts reach the models whose catalog entry says they take images, and only those.</summary>
public class ImagePartsTests(VisionApiFactory api) : IClassFixture<VisionApiFactory>
{
    private static readonly byte[] Png = Convert.FromBase64String("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==");

    private ChatClient Sdk(string model) => new(model, new ApiKeyCredential(Tokens.For("vision-user")), api.OpenAiOptions());

    private static UserChatMessage WithImages() => new(
        ChatMessageContentPart.CreateTextPart("What is in these pictures?"),
        ChatMessageContentPart.CreateImagePart(new Uri("https://example.org/cat.png"), ChatImageDetailLevel.High),
        ChatMessageContentPart.CreateImagePart(BinaryData.FromBytes(Png), "image/png"));

    [Fact]
    public async Task AVisionModel_SeesTheImagePartsAsSent()
    {
        api.Upstream.Script = new FakeScript();

        ChatCompletion completion = await Sdk("vision-gpt").CompleteChatAsync([WithImages()]);

        completion.Content[0].Text.Should().Be("Hello from the fake model.");
        var parts = api.Upstream.Requests.Last().Body["messages"]!.AsArray().Last()!["content"]!.AsArray();
        parts.Select(p => p!["type"]!.GetValue<string>()).Should().Equal("text", "image_url", "image_url");
        parts[0]!["text"]!.GetValue<string>().Should().Be("What is in these pictures?");
        parts[1]!["image_url"]!["url"]!.GetValue<string>().Should().Be("https://example.org/cat.png");
        parts[1]!["image_url"]!["detail"]!.GetValue<string>().Should().Be("high");
        parts[2]!["image_url"]!["url"]!.GetValue<string>().Should().Be("data:image/png;base64," + Convert.ToBase64String(Png));
        (await api.ScalarAsync<string>("SELECT content FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id WHERE s.user_id = 'vision-user' AND m.role = 'user' ORDER BY m.created_at DESC LIMIT 1"))
            .Should().Be("What is in these pictures?", "the text is stored; the images are not");
    }

    [Fact]
    public async Task AModelWithoutVision_RefusesImageParts_WithA422NamingTheMessage()
    {
        var before = api.Upstream.Requests.Count;

        var refusal = await Sdk("fake-gpt").Invoking(sdk => sdk.CompleteChatAsync([new SystemChatMessage("Be brief."), WithImages()]))
            .Should().ThrowAsync<ClientResultException>();

        refusal.Which.Status.Should().Be(422);
        var error = JsonDocument.Parse(refusal.Which.GetRawResponse()!.Content.ToString()).RootElement.GetProperty("error");
        error.GetProperty("param").GetString().Should().Be("messages[1].content");
        error.GetProperty("message").GetString().Should().Contain("fake-gpt").And.Contain("Vision");
        api.Upstream.Requests.Count.Should().Be(before);
    }

    [Fact]
    public async Task TheModelList_SaysWhichModelsTakeImages()
    {
        var models = (await (await api.SocketClient().GetAsync("/v1/models")).ShouldBeJsonAsync(HttpStatusCode.OK)).GetProperty("data").EnumerateArray().ToList();

        models.Single(m => m.Str("id") == "vision-gpt").GetProperty("vision").GetBoolean().Should().BeTrue();
        models.Single(m => m.Str("id") == "fake-gpt").GetProperty("vision").GetBoolean().Should().BeFalse();
    }
}
