using System.Diagnostics.Metrics;
using ChatSlices.Bench.Common;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Documents;
using ChatSlices.Infrastructure.Telemetry;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ModelBench;

/// <summary>
/// Retrieval quality: bench/models/recall-pages.tsv becomes a PDF of one page per row (its text, then eight sentences of
/// handbook boilerplate from recall-filler.txt, so that a page is about one chunk), read by the service's own extraction
/// (pdfinfo, pdftotext), chunking and embedders. Each row's question shares no content word with its page (checked here);
/// it is answered when one of the five chunks nearest to it by cosine (pgvector's exact order) covers that page.
/// </summary>
internal static class Recall
{
    public static readonly UploadSettings Uploads = new();

    public static readonly ModelSpec MiniLm = new() { Id = "local-embed", Provider = "local", ProviderModel = LocalEmbedders.MiniLm, Kind = ModelKind.Embedding, ContextWindow = 256, Dimensions = 384 };
    private static readonly ModelSpec Hash = new() { Id = "local-hash", Provider = "local", ProviderModel = LocalEmbedders.Hash, Kind = ModelKind.Embedding, Dimensions = 384 };

    private const int FillerPerPage = 8;

    private static readonly HashSet<string> StopWords =
    [
        "a", "an", "the", "and", "or", "but", "if", "of", "to", "in", "on", "at", "by", "for", "with", "from", "up", "out", "over",
        "when", "where", "why", "how", "what", "which", "who", "whom", "all", "any", "some", "no", "not", "can", "will", "should",
        "my", "me", "we", "our", "you", "your", "it", "its", "they", "them", "their", "this", "that", "is", "are", "was", "be",
        "been", "have", "has", "had", "do", "does", "did", "would", "could", "may", "must", "about", "into", "get", "there", "someone",
        "something", "than", "so", "as", "each", "every", "just", "only", "after", "before", "during",
    ];

    private static IEnumerable<string> ContentWords(string text) =>
        text.ToLowerInvariant().Split(text.Where(c => !char.IsLetter(c)).Distinct().ToArray(), StringSplitOptions.RemoveEmptyEntries)
            .Where(w => w.Length > 1 && !StopWords.Contains(w));

    /// <summary>The same word, or words that begin alike for five letters (a crude stem: "employ", "employees").</summary>
    private static bool Shares(string question, string page) =>
        ContentWords(question).Any(q => ContentWords(page).Any(p => p == q || (q.Length >= 5 && p.Length >= 5 && q[..5] == p[..5])));

    private static List<string> PageTexts(List<string[]> rows, string[] filler) => rows.Select((row, i) =>
    {
        var shuffle = new Random(i);
        var extra = filler.OrderBy(_ => shuffle.Next()).Where(f => !Shares(row[1], f)).Take(FillerPerPage);
        var page = row[0] + " " + string.Join(" ", extra);
        return Shares(row[1], page) ? throw new InvalidOperationException($"Question {i + 1} shares a word with its page: {row[1]}") : page;
    }).ToList();

    public static async Task<int> RunAsync(string path, string fillerPath)
    {
        var rows = File.ReadLines(path).Where(l => l.Length > 0 && l[0] != '#').Select(l => l.Split('\t')).ToList();
        var pages = await ExtractAsync(Pdf.FromTexts(PageTexts(rows, File.ReadAllLines(fillerPath).Where(l => l.Length > 0).ToArray())));
        Console.WriteLine($"### Retrieval recall@5 ({rows.Count} questions, each sharing no content word with the one page of {pages.Count} that answers it)");
        Console.WriteLine();
        double[] thresholds = [0.1, 0.2, 0.3, 0.5, 0.7];
        Console.WriteLine("| embedder | chunks | recall@5 | recall@1 | answering chunk's score: min / median | best other chunk's score: median / max | " +
                          $"recall@5 with similarity_threshold {string.Join(" / ", thresholds)} |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var model in new[] { MiniLm, Hash })
        {
            var embedder = LocalEmbedders.Create(model);
            var chunks = Chunker.Split(pages, model, Uploads);
            var chunkVectors = await EmbedAsync(embedder, chunks.Select(c => c.Content));
            var questionVectors = await EmbedAsync(embedder, rows.Select(r => r[1]));
            int at5 = 0, at1 = 0;
            var above = new int[thresholds.Length];
            List<double> answering = [], others = [];
            for (var q = 0; q < rows.Count; q++)
            {
                var page = q + 1;
                var ranked = chunks.Select((c, i) => (Chunk: c, Score: Dot(questionVectors[q], chunkVectors[i]))).OrderByDescending(x => x.Score).ToList();
                bool Covers(ChunkDraft c) => c.PageFrom <= page && page <= c.PageTo;
                if (ranked.Take(5).Any(x => Covers(x.Chunk))) at5++;
                for (var t = 0; t < thresholds.Length; t++)
                    if (ranked.Take(5).Any(x => Covers(x.Chunk) && x.Score >= thresholds[t])) above[t]++;
                if (Covers(ranked[0].Chunk)) at1++;
                answering.Add(ranked.Where(x => Covers(x.Chunk)).Max(x => x.Score));
                others.Add(ranked.Where(x => !Covers(x.Chunk)).Max(x => x.Score));
            }
            Console.WriteLine($"| {model.ProviderModel} | {chunks.Count} | {(double)at5 / rows.Count:0.00} ({at5}/{rows.Count}) | {(double)at1 / rows.Count:0.00} | " +
                              $"{answering.Min():0.00} / {Stats.Median(answering):0.00} | {Stats.Median(others):0.00} / {others.Max():0.00} | " +
                              $"{string.Join(" / ", above.Select(n => ((double)n / rows.Count).ToString("0.00")))} |");
        }
        Console.WriteLine();
        return 0;
    }

    /// <summary>The service's extraction (pdfinfo, pdftotext) of <paramref name="pdf"/>: its pages' text.</summary>
    public static async Task<IReadOnlyList<string>> ExtractAsync(byte[] pdf)
    {
        var options = Options.Create(Uploads);
        var metrics = new ChatMetrics(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>(), Options.Create(new AiSettings()));
        var extracted = await new PdfText(new ExtractionQueue(options), options, metrics, NullLogger<PdfText>.Instance).ExtractAsync(pdf, CancellationToken.None);
        return extracted.Value?.Pages ?? throw new InvalidOperationException($"Extraction failed: {extracted.Failure?.Detail}");
    }

    public static async Task<float[][]> EmbedAsync(IEmbeddingGenerator<string, Embedding<float>> embedder, IEnumerable<string> texts) =>
        (await embedder.GenerateAsync(texts)).Select(e => e.Vector.ToArray()).ToArray();

    private static double Dot(float[] a, float[] b)
    {
        double sum = 0;
        for (var i = 0; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }
}
