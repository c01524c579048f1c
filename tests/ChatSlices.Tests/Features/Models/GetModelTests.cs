using System.ClientModel;
using System.Net;
using ChatSlices.Tests.Support;
using OpenAI.Models;

namespace ChatSlices.Tests.Features.Models;

/// <summary>GET /v1/models/{model}: OpenAI's retrieve-model route over the catalog.</summary>
public class GetModelTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    [Fact]
    public async Task TheOpenAiSdk_RetrievesAModelOfTheCatalog()
    {
        var client = new OpenAIModelClient(new ApiKeyCredential(Tokens.For("model-reader")), api.OpenAiOptions());

        OpenAIModel model = await client.GetModelAsync("fake-gpt");

        model.Id.Should().Be("fake-gpt");
        model.OwnedBy.Should().NotBeNullOrEmpty();
    }

    [Fact]
    public async Task AModelWithASlashInItsId_AndAnUnknownOne()
    {
        using var client = api.SocketClient();
        var known = await client.GetAsync("/v1/models/local-embed");
        known.StatusCode.Should().Be(HttpStatusCode.OK);
        (await known.JsonAsync()).GetProperty("dimensions").GetInt32().Should().Be(384);

        await (await client.GetAsync("/v1/models/org/no-such-model")).ShouldBeProblemAsync(HttpStatusCode.NotFound);
    }
}
