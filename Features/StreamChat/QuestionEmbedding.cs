using ChatSlices.Infrastructure.Telemetry;
using Microsoft.Extensions.AI;
using Pgvector;

namespace ChatSlices.Features.StreamChat;

/// <summary>The turn's question embedded once, on first use, for the semantic cache and retrieval alike.</summary>
public sealed class QuestionEmbedding(IEmbeddingGenerator<string, Embedding<float>> embedder, string question)
{
    private Task<Vector>? _vector;

    public Task<Vector> GetAsync(CancellationToken ct) => _vector ??= EmbedAsync(ct);

    private async Task<Vector> EmbedAsync(CancellationToken ct)
    {
        using var span = ChatTelemetry.Embedding(embedder, 1);
        return new((await embedder.GenerateAsync([question], cancellationToken: ct))[0].Vector);
    }
}
