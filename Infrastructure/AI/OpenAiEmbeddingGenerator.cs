using Microsoft.Extensions.AI;
using OpenAI.Embeddings;

namespace ChatSlices.Infrastructure.AI;

/// <summary><see cref="IEmbeddingGenerator{TInput,TEmbedding}"/> over the OpenAI SDK: one request per batch of texts.</summary>
public sealed class OpenAiEmbeddingGenerator(EmbeddingClient client) : IEmbeddingGenerator<string, Embedding<float>>
{
    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, Microsoft.Extensions.AI.EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        var result = await client.GenerateEmbeddingsAsync(values.ToList(), cancellationToken: cancellationToken);
        var embeddings = result.Value.OrderBy(e => e.Index).Select(e => new Embedding<float>(e.ToFloats()));
        return new GeneratedEmbeddings<Embedding<float>>(embeddings)
        {
            Usage = new UsageDetails { InputTokenCount = result.Value.Usage.InputTokenCount, TotalTokenCount = result.Value.Usage.TotalTokenCount },
        };
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose() { }
}
