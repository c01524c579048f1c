using Microsoft.Extensions.AI;

namespace ChatSlices.Infrastructure.AI;

/// <summary>The offline embedders a <c>local</c> embedding model can name as its <c>ProviderModel</c>.</summary>
public static class LocalEmbedders
{
    /// <summary>The sentence model (the default).</summary>
    public const string MiniLm = "all-MiniLM-L6-v2";

    /// <summary>Word hashing: no model, shared words only.</summary>
    public const string Hash = "hash";

    public static IEmbeddingGenerator<string, Embedding<float>> Create(ModelSpec model) => (model.ProviderModel ?? MiniLm) switch
    {
        MiniLm when model.Dimensions is null or MiniLmEmbeddingGenerator.Dimensions => new MiniLmEmbeddingGenerator(),
        MiniLm => throw new InvalidOperationException(
            $"Model '{model.Id}' ({MiniLm}) has {MiniLmEmbeddingGenerator.Dimensions} dimensions, not {model.Dimensions}."),
        Hash => new HashEmbeddingGenerator(model.Dimensions ?? 384),
        var other => throw new InvalidOperationException($"Model '{model.Id}' names an unknown local embedder '{other}' ({MiniLm} or {Hash})."),
    };
}
