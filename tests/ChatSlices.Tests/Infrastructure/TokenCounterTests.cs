using ChatSlices.Infrastructure.AI;

namespace ChatSlices.Tests.Infrastructure;

public class TokenCounterTests
{
    /// <summary>Data/token-counts.tsv (shared with bench/models): reference counts of tiktoken and of MiniLM's tokenizer.</summary>
    public static TheoryData<string, string, int> Reference()
    {
        var data = new TheoryData<string, string, int>();
        foreach (var f in File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Data", "token-counts.tsv")).Where(l => l.Length > 0 && l[0] != '#').Select(l => l.Split('\t')))
            data.Add(f[0], f[2], int.Parse(f[1]));
        return data;
    }

    [Theory]
    [MemberData(nameof(Reference))]
    public void Counts_MatchTheTokenizersReference(string tokenizer, string text, int tokens) =>
        TokenCounter.Named(tokenizer).Count(text).Should().Be(tokens);

    [Theory]
    [InlineData("gpt-4o-mini", "o200k_base")]
    [InlineData("o3-mini", "o200k_base")]
    [InlineData("gpt-4.1", "o200k_base")]
    [InlineData("gpt-5", "o200k_base")]
    [InlineData("gpt-4-turbo", "cl100k_base")]
    [InlineData("gpt-3.5-turbo", "cl100k_base")]
    [InlineData("llama3.1", "o200k_base")]
    public void ChatModels_CountInTheirFamilysTokenizer(string model, string tokenizer) =>
        new ModelSpec { Id = model }.Tokens().Name.Should().Be(tokenizer);

    [Fact]
    public void TheOfflineEmbedder_CountsInItsWordPieces_AndTheCatalogFieldWins()
    {
        new ModelSpec { Id = "local-embed", Provider = "local", Kind = ModelKind.Embedding }.Tokens().Name.Should().Be("minilm_wordpiece");
        new ModelSpec { Id = "m", ProviderModel = "gpt-4o", Tokenizer = "cl100k_base" }.Tokens().Name.Should().Be("cl100k_base");
    }

    [Fact]
    public void AnUnknownTokenizer_IsRefused() =>
        FluentActions.Invoking(() => TokenCounter.Named("nope")).Should().Throw<InvalidOperationException>();
}
