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

    /// <summary>Embedding models only: the length of the vectors they produce.</summary>
    public int? Dimensions { get; set; }

    public decimal Cost(long promptTokens, long completionTokens) =>
        (promptTokens * InputPricePerMillion + completionTokens * OutputPricePerMillion) / 1_000_000m;
}

/// <summary>The models this service offers, from configuration. Several slices look models up here.</summary>
public sealed class ModelCatalog(IOptionsMonitor<List<ModelSpec>> models)
{
    public const string Section = "Models";

    public IReadOnlyList<ModelSpec> All => models.CurrentValue;

    public ModelSpec? Find(string? id, ModelKind kind) =>
        id is null ? null : All.FirstOrDefault(m => m.Kind == kind && string.Equals(m.Id, id, StringComparison.Ordinal));

    /// <summary>The model, or the one 400 every slice answers for a name the catalog does not have.</summary>
    public Outcome<ModelSpec> Require(string? id, ModelKind kind) =>
        Find(id, kind) is { } model ? model : UnknownModel(id, kind);

    public static Failure UnknownModel(string? id, ModelKind kind) => kind == ModelKind.Chat
        ? Failure.BadRequest($"Unknown model '{id}'. GET /v1/models lists the chat models.", "model_not_found")
        : Failure.BadRequest($"Unknown embedding model '{id}'. GET /v1/models lists them.", "model_not_found");
}
