using ChatSlices.Infrastructure.AI;
using ChatSlices.Tests.Support;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace ChatSlices.Tests.Infrastructure;

public class LocalEmbeddingTests
{
    private static float Cosine(float[] a, float[] b) => a.Zip(b, (x, y) => x * y).Sum();

    [Fact]
    public void SameText_GivesTheSameUnitVector_OfTheConfiguredSize()
    {
        var embedder = new LocalEmbeddingGenerator(384);

        var first = embedder.Embed("How do I reset my password?");
        var second = new LocalEmbeddingGenerator(384).Embed("How do I reset my password?");

        first.Should().HaveCount(384).And.Equal(second);
        MathF.Sqrt(first.Sum(x => x * x)).Should().BeApproximately(1f, 1e-5f);
    }

    [Fact]
    public void TextsSharingWords_AreCloserThanUnrelatedTexts()
    {
        var embedder = new LocalEmbeddingGenerator(384);
        var question = embedder.Embed("How do I reset my password?");

        var related = Cosine(question, embedder.Embed("Steps to reset a forgotten password"));
        var unrelated = Cosine(question, embedder.Embed("The weather in Paris is sunny today"));

        related.Should().BeGreaterThan(unrelated + 0.2f);
    }

    [Fact]
    public void EmptyText_IsTheZeroVector()
    {
        new LocalEmbeddingGenerator(16).Embed("  ").Should().OnlyContain(x => x == 0);
    }
}

public class ModelProviderEmbeddingTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    [Fact]
    public async Task CatalogEmbeddingModels_ResolveToWorkingGenerators_LocalAndOpenAi()
    {
        var providers = api.Services.GetRequiredService<ModelProviders>();
        var catalog = api.Services.GetRequiredService<ModelCatalog>();

        var local = await providers.Embedder(catalog.Find("local-embed", ModelKind.Embedding)!).GenerateAsync(["one text", "another"]);
        var remote = await providers.Embedder(catalog.Find("fake-embed", ModelKind.Embedding)!).GenerateAsync(["abc", "hello world"]);

        local.Select(e => e.Vector.Length).Should().Equal(384, 384);
        remote.Select(e => e.Vector.Length).Should().Equal(8, 8);
        remote[0].Vector.ToArray().Should().NotEqual(remote[1].Vector.ToArray(), "each input gets its own vector, in order");
    }
}
