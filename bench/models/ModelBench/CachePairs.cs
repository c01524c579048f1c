using ChatSlices.Features.StreamChat;
using ChatSlices.Infrastructure.AI;
using Microsoft.Extensions.AI;

namespace ModelBench;

/// <summary>
/// The labelled question pairs of tests/ChatSlices.Tests/Data/cache-pairs.tsv through the semantic cache's decision: a hit
/// is the same normalised question, or a similarity at or above the threshold that <see cref="CacheGuard"/> lets through.
/// </summary>
internal static class CachePairs
{
    public sealed record Pair(string Kind, string Cached, string Asked)
    {
        public bool ShouldHit => Kind == "paraphrase";
    }

    public static List<Pair> Load(string path) =>
        File.ReadLines(path).Where(l => l.Length > 0 && l[0] != '#').Select(l => l.Split('\t')).Select(f => new Pair(f[0], f[1], f[2])).ToList();

    public static async Task<double[]> SimilaritiesAsync(IEmbeddingGenerator<string, Embedding<float>> embedder, List<Pair> pairs)
    {
        var cached = await embedder.GenerateAsync(pairs.Select(p => p.Cached));
        var asked = await embedder.GenerateAsync(pairs.Select(p => p.Asked));
        return pairs.Select((_, i) => (double)Cosine(cached[i].Vector.Span, asked[i].Vector.Span)).ToArray();
    }

    public static bool Hits(Pair pair, double similarity, double threshold, bool guarded) =>
        SemanticCache.Normalize(pair.Cached) == SemanticCache.Normalize(pair.Asked)
        || (similarity >= threshold && (!guarded || CacheGuard.SameMeaning(pair.Asked, pair.Cached)));

    private static float Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return na == 0 || nb == 0 ? 0 : dot / MathF.Sqrt(na * nb);
    }

    public static async Task<int> RunAsync(string path, double[] thresholds, double chosen)
    {
        var pairs = Load(path);
        var embedders = new (string Name, IEmbeddingGenerator<string, Embedding<float>> Embedder)[]
        {
            ("all-MiniLM-L6-v2", new MiniLmEmbeddingGenerator()), ("hash (word hashing)", new HashEmbeddingGenerator(384)),
        };
        var paraphrases = pairs.Count(p => p.ShouldHit);
        Console.WriteLine($"### Semantic-cache pairs ({pairs.Count}: {paraphrases} paraphrases; " +
                          string.Join(", ", pairs.Where(p => !p.ShouldHit).GroupBy(p => p.Kind).Select(g => $"{g.Count()} {g.Key}")) + " near misses)");
        Console.WriteLine();
        Console.WriteLine("| embedder | threshold | guard | wrong hits | paraphrase hits |");
        Console.WriteLine("|---|---|---|---|---|");
        var verbose = Environment.GetEnvironmentVariable("MODELBENCH_VERBOSE") == "1";
        foreach (var (name, embedder) in embedders)
        {
            var similarities = await SimilaritiesAsync(embedder, pairs);
            foreach (var threshold in thresholds)
            foreach (var guarded in new[] { false, true })
            {
                var hits = pairs.Select((p, i) => Hits(p, similarities[i], threshold, guarded)).ToArray();
                var wrong = pairs.Where((p, i) => hits[i] && !p.ShouldHit).ToList();
                var right = pairs.Where((p, i) => hits[i] && p.ShouldHit).Count();
                var mark = threshold == chosen && guarded && embedder is MiniLmEmbeddingGenerator ? " **(default)**" : "";
                Console.WriteLine($"| {name} | {threshold:0.00}{mark} | {(guarded ? "on" : "off")} | {wrong.Count} of {pairs.Count - paraphrases} " +
                                  $"({string.Join(", ", wrong.GroupBy(p => p.Kind).Select(g => $"{g.Count()} {g.Key}"))}) | {right} of {paraphrases} ({100.0 * right / paraphrases:0}%) |");
            }
            if (verbose)
                foreach (var (p, s) in pairs.Zip(similarities).OrderBy(x => x.First.Kind).ThenByDescending(x => x.Second))
                    Console.Error.WriteLine($"{name}\t{p.Kind}\t{s:0.000}\t{CacheGuard.SameMeaning(p.Asked, p.Cached)}\t{p.Cached}\t{p.Asked}");
        }
        Console.WriteLine();
        return 0;
    }
}
