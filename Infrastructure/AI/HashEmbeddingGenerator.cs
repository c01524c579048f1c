using System.Globalization;
using System.Text;
using Microsoft.Extensions.AI;

namespace ChatSlices.Infrastructure.AI;

/// <summary>
/// The offline word-hashing embedder (<c>ProviderModel: "hash"</c>), kept as the baseline the sentence model is measured
/// against: feature hashing of lower-cased words, word pairs and character trigrams into a fixed
/// number of dimensions (signed, so collisions cancel rather than pile up), L2-normalised. Deterministic across
/// runs and machines. It captures shared vocabulary, not meaning: good enough to retrieve passages that use the
/// question's words, and honest about being no neural model.
/// </summary>
public sealed class HashEmbeddingGenerator(int dimensions) : IEmbeddingGenerator<string, Embedding<float>>
{
    public int Dimensions { get; } = dimensions > 0 ? dimensions : throw new ArgumentOutOfRangeException(nameof(dimensions));

    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.FromResult(new GeneratedEmbeddings<Embedding<float>>(values.Select(v => new Embedding<float>(Embed(v)))));

    public float[] Embed(string text)
    {
        var vector = new float[Dimensions];
        var words = Words(text);
        for (var i = 0; i < words.Count; i++)
        {
            Add(vector, "w:" + words[i], 1f);
            if (i > 0) Add(vector, "b:" + words[i - 1] + " " + words[i], 0.5f);
            var padded = "^" + words[i] + "$";
            for (var j = 0; j + 3 <= padded.Length; j++) Add(vector, "c:" + padded.Substring(j, 3), 0.25f);
        }
        var norm = MathF.Sqrt(vector.Sum(x => x * x));
        if (norm > 0) for (var i = 0; i < vector.Length; i++) vector[i] /= norm;
        return vector;
    }

    private void Add(float[] vector, string feature, float weight)
    {
        var hash = Fnv1a(feature);
        vector[(int)(hash % (uint)Dimensions)] += (hash & 0x8000_0000) == 0 ? weight : -weight;
    }

    private static List<string> Words(string text)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        foreach (var c in text.Normalize(NormalizationForm.FormKC))
        {
            if (char.IsLetterOrDigit(c)) current.Append(char.ToLower(c, CultureInfo.InvariantCulture));
            else if (current.Length > 0) { words.Add(current.ToString()); current.Clear(); }
        }
        if (current.Length > 0) words.Add(current.ToString());
        return words;
    }

    private static uint Fnv1a(string s)
    {
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(s)) hash = (hash ^ b) * 16777619u;
        return hash;
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose() { }
}
