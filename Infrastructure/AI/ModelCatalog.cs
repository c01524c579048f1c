using ChatSlices.Infrastructure.Errors;
using Microsoft.Extensions.Options;

namespace ChatSlices.Infrastructure.AI;

public enum ModelKind { Chat, Embedding }

/// <summary>One entry of the <c>Models</c> configuration array.</summary>
public sealed class ModelSpec
{
    public required string Id { get; set; }

    /// <summary>The name the provider knows the model by; defaults to <see cref="Id"/>.</summary>
    public string? ProviderModel { get; set; }

    /// <summary><c>local</c> or <c>openai</c>; defaults to <c>AI:Provider</c>.</summary>
    public string? Provider { get; set; }

    public ModelKind Kind { get; set; } = ModelKind.Chat;
    public string OwnedBy { get; set; } = "chatslices";
    public int ContextWindow { get; set; } = 8192;
    public int MaxOutputTokens { get; set; } = 4096;
    public decimal InputPricePerMillion { get; set; }
    public decimal OutputPricePerMillion { get; set; }

    /// <summary>Chat models only: the model takes images (<c>image_url</c> content parts); others are refused them.</summary>
    public bool Vision { get; set; }

    /// <summary>Embedding models only: the length of the vectors they produce.</summary>
    public int? Dimensions { get; set; }

    /// <summary>The tokenizer its tokens are counted with (<see cref="TokenCounter.Names"/>); default by model family.</summary>
    public string? Tokenizer { get; set; }

    public TokenCounter Tokens() => TokenCounter.Named(Tokenizer ?? DefaultTokenizer(ProviderModel ?? Id, Kind, Provider));

    /// <summary>
    /// gpt-4o, o-series, gpt-4.1 and gpt-5 count in o200k_base; gpt-4, gpt-3.5 and OpenAI's embeddings in cl100k_base;
    /// the offline embedder in its WordPiece vocabulary; anything else in o200k_base, the closest guess for a modern model.
    /// </summary>
    public static string DefaultTokenizer(string name, ModelKind kind, string? provider)
    {
        var lower = name.ToLowerInvariant();
        if (lower == LocalEmbedders.MiniLm.ToLowerInvariant() || (kind == ModelKind.Embedding && provider == "local" && lower != LocalEmbedders.Hash))
            return TokenCounter.MiniLmWordPiece;
        if (lower.StartsWith("gpt-4o", StringComparison.Ordinal) || lower.StartsWith("gpt-4.1", StringComparison.Ordinal)
            || lower.StartsWith("gpt-4.5", StringComparison.Ordinal) || lower.StartsWith("gpt-5", StringComparison.Ordinal)
            || (lower.Length > 1 && lower[0] == 'o' && char.IsDigit(lower[1])))
            return TokenCounter.O200kBase;
        if (lower.StartsWith("gpt-4", StringComparison.Ordinal) || lower.StartsWith("gpt-3.5", StringComparison.Ordinal)
            || lower.StartsWith("text-embedding-", StringComparison.Ordinal))
            return TokenCounter.Cl100kBase;
        return TokenCounter.O200kBase;
    }

    public decimal Cost(long promptTokens, long completionTokens) =>
        (promptTokens * InputPricePerMillion + completionTokens * OutputPricePerMillion) / 1_000_000m;
}

/// <summary>
/// The models this service offers: those configured, then those the <c>openai</c> endpoint lists that no configured entry
/// names (by id or provider model). Several slices look models up here.
/// </summary>
public sealed class ModelCatalog(IOptionsMonitor<List<ModelSpec>> models, UpstreamModels upstream, IOptions<AiSettings> ai)
{
    public const string Section = "Models";

    public const string LocalChat = "local-chat";

    public IReadOnlyList<ModelSpec> All
    {
        get
        {
            var configured = models.CurrentValue;
            var discovered = upstream.Current;
            if (discovered.Count == 0) return configured;
            var named = configured.SelectMany(m => new[] { m.Id, m.ProviderModel }).OfType<string>().ToHashSet(StringComparer.Ordinal);
            return [.. configured, .. discovered.Where(m => !named.Contains(m.Id))];
        }
    }

    /// <summary><c>AI:DefaultModel</c>; unset, the first chat model the endpoint lists, else the offline one.</summary>
    public string DefaultChatModel =>
        !string.IsNullOrWhiteSpace(ai.Value.DefaultModel) ? ai.Value.DefaultModel
        : upstream.Current.FirstOrDefault(m => m.Kind == ModelKind.Chat)?.Id ?? LocalChat;

    /// <summary>The model of that id and kind; an embedding model only with its <see cref="ModelSpec.Dimensions"/> (vectors are stored by length).</summary>
    public ModelSpec? Find(string? id, ModelKind kind) =>
        id is null ? null : All.FirstOrDefault(m => m.Kind == kind && string.Equals(m.Id, id, StringComparison.Ordinal)
                                                    && (kind == ModelKind.Chat || m.Dimensions > 0));

    /// <summary>The model, or the one 400 every slice answers for a name the catalog does not have.</summary>
    public Outcome<ModelSpec> Require(string? id, ModelKind kind) =>
        Find(id, kind) is { } model ? model : UnknownModel(id, kind);

    public static Failure UnknownModel(string? id, ModelKind kind) => kind == ModelKind.Chat
        ? Failure.BadRequest($"Unknown model '{id}'. GET /v1/models lists the chat models.", "model_not_found")
        : Failure.BadRequest($"Unknown embedding model '{id}'. GET /v1/models lists them.", "model_not_found");
}
