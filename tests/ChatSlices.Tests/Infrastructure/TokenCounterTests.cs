using ChatSlices.Infrastructure.AI;

namespace ChatSlices.Tests.Infrastructure;

public class TokenCounterTests
{
    // Reference counts from OpenAI's tiktoken (o200k_base and cl100k_base) and Hugging Face's all-MiniLM-L6-v2 tokenizer
    // (without [CLS] and [SEP]), for a fixed set of texts.
    public static TheoryData<string, string, int> Reference => new()
    {
        { "o200k_base", "hello world", 2 },
        { "cl100k_base", "hello world", 2 },
        { "o200k_base", "tiktoken is great!", 6 },
        { "cl100k_base", "tiktoken is great!", 6 },
        { "o200k_base", "The quick brown fox jumps over the lazy dog.", 10 },
        { "cl100k_base", "The quick brown fox jumps over the lazy dog.", 10 },
        { "cl100k_base", "antidisestablishmentarianism", 6 },
        { "o200k_base", "antidisestablishmentarianism", 6 },
        { "cl100k_base", "2 + 2 = 4", 7 },
        { "o200k_base", "2 + 2 = 4", 7 },
        { "cl100k_base", "お誕生日おめでとう", 9 },
        { "o200k_base", "お誕生日おめでとう", 8 },
        { "minilm_wordpiece", "hello world", 2 },
        { "minilm_wordpiece", "Unbelievable tokenization.", 4 },
        { "minilm_wordpiece", "How do I enable two-factor authentication?", 9 },
    };

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
