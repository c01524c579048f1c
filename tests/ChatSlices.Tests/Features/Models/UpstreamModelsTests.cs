using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.Models;

/// <summary>
/// The service as a newcomer configures it: <c>AI:Provider=openai</c>, an endpoint and a key, no model lines but one
/// (qwen2.5, configured with a price). The fake upstream lists its models at <c>GET /v1/models</c>.
/// </summary>
public class UpstreamApiFactory : ApiFactory
{
    public FakeUpstream Upstream { get; } = new();

    public UpstreamApiFactory()
    {
        Upstream.Models = [new("llama3.1", "library"), new("nomic-embed-text", "library"), new("whisper-1", "openai-internal"), new("qwen2.5", "library")];
        With("AI:Provider", "openai").With("AI:Endpoint", Upstream.BaseUrl).With("AI:ApiKey", "upstream-key").With("AI:ModelRefreshMinutes", "0.01");
        With("Models:2:Id", "qwen2.5").With("Models:2:OwnedBy", "configured").With("Models:2:InputPricePerMillion", "1.5");
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Upstream.DisposeAsync();
    }
}

public class UpstreamModelsTests(UpstreamApiFactory api) : IClassFixture<UpstreamApiFactory>
{
    private async Task<List<JsonElement>> ModelsAsync() =>
        JsonDocument.Parse(await api.CreateClient().GetStringAsync("/v1/models")).RootElement.GetProperty("data").EnumerateArray().ToList();

    [Fact]
    public async Task ModelList_HasTheUpstreamsModels_WithItsOwners_AndNoPrices_ConfiguredEntriesWinning()
    {
        var models = await ModelsAsync();

        var llama = models.Single(m => m.Str("id") == "llama3.1");
        llama.Str("owned_by").Should().Be("library");
        llama.Str("kind").Should().Be("chat");
        llama.GetProperty("input_price_per_million").GetDecimal().Should().Be(0);
        models.Single(m => m.Str("id") == "nomic-embed-text").Str("kind").Should().Be("embedding");
        models.Should().NotContain(m => m.Str("id") == "whisper-1", "speech models cannot answer a chat turn");
        var qwen = models.Where(m => m.Str("id") == "qwen2.5").Should().ContainSingle().Subject;
        qwen.Str("owned_by").Should().Be("configured");
        qwen.GetProperty("input_price_per_million").GetDecimal().Should().Be(1.5m);
        models.Select(m => m.Str("id")).Should().StartWith(["local-chat", "local-embed", "qwen2.5"], "configured entries come first");
        api.Upstream.ModelListReads.ToArray().Should().NotBeEmpty().And.AllBe("Bearer upstream-key");
    }

    [Fact]
    public async Task ATurnNamingNoModel_IsAnsweredByTheFirstChatModelTheUpstreamLists()
    {
        var response = await api.UserClient("newcomer").PostAsJsonAsync("/v1/chat/stream", new { query = "Hello?", stream = false });

        var body = await response.ShouldBeJsonAsync(HttpStatusCode.OK);
        body.GetProperty("message").GetProperty("content").GetString().Should().Be("Hello from the fake model.");
        api.Upstream.Requests.Last().Body["model"]!.GetValue<string>().Should().Be("llama3.1");
    }

    [Fact]
    public async Task ADiscoveredEmbeddingModel_CannotEmbed_UntilConfiguredWithItsDimensions()
    {
        var response = await api.UserClient("embedder").PostAsJsonAsync("/v1/chat/stream", new { query = "Hi", embedding_model = "nomic-embed-text", stream = false });

        (await response.ShouldBeProblemAsync(HttpStatusCode.BadRequest)).Str("code").Should().Be("model_not_found");
    }

    [Fact]
    public async Task TheListIsReadAgain_EveryRefreshInterval()
    {
        api.Upstream.Models = [.. api.Upstream.Models, new("mistral-small", "mistralai")];

        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!(await ModelsAsync()).Any(m => m.Str("id") == "mistral-small") && DateTime.UtcNow < deadline) await Task.Delay(200);

        (await ModelsAsync()).Single(m => m.Str("id") == "mistral-small").Str("owned_by").Should().Be("mistralai");
    }
}

/// <summary>An upstream whose model list fails: the service starts all the same, on its configured catalog.</summary>
public class FailingUpstreamApiFactory : UpstreamApiFactory
{
    public FailingUpstreamApiFactory() => Upstream.ModelsStatus = 500;
}

public class FailingUpstreamModelsTests(FailingUpstreamApiFactory api) : IClassFixture<FailingUpstreamApiFactory>
{
    [Fact]
    public async Task AFailedRead_IsNotFatal_TheConfiguredCatalogAndTheOfflineDefaultServe()
    {
        var models = JsonDocument.Parse(await api.CreateClient().GetStringAsync("/v1/models")).RootElement.GetProperty("data")
            .EnumerateArray().Select(m => m.Str("id")).ToList();
        var answer = await (await api.UserClient("patient").PostAsJsonAsync("/v1/chat/stream", new { query = "Anyone there?", stream = false }))
            .ShouldBeJsonAsync(HttpStatusCode.OK);

        api.Upstream.ModelListReads.Should().NotBeEmpty("the service did ask");
        models.Should().Equal("local-chat", "local-embed", "qwen2.5");
        answer.GetProperty("message").GetProperty("content").GetString().Should().StartWith(LocalChatCompletion.Disclaimer);
    }
}
