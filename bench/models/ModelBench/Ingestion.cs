using System.Diagnostics;
using ChatSlices.Bench.Common;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Documents;
using static ChatSlices.Bench.Common.Figures;

namespace ModelBench;

/// <summary>
/// How fast a generated PDF is read, chunked and embedded with all-MiniLM-L6-v2 in process (the service's extraction,
/// chunker and embedder; no database, no HTTP), beside the path the embedder replaced (<see cref="PackageEncoder"/>) on
/// the same chunks in the same run, the two in alternating order; then questions embedded one at a time (the semantic
/// cache's and retrieval's case) both ways. Also the model's arithmetic: what a page costs and what the cores did.
/// </summary>
internal static class Ingestion
{
    // all-MiniLM-L6-v2: 6 layers 384 wide, feed-forward 1536 wide.
    private const int Layers = 6, Hidden = 384, FeedForward = 1536;

    /// <summary>
    /// Floating-point operations (two a multiply-add) for one token of a text of <paramref name="length"/> tokens: per layer
    /// the four attention projections, the feed-forward, and the attention's scores and weighted sum over the text.
    /// </summary>
    private static double FlopsPerToken(int length) => 2.0 * Layers * (4.0 * Hidden * Hidden + 2.0 * Hidden * FeedForward + 2.0 * length * Hidden);

    private sealed record Run(int Chunks, long Tokens, double Extract, double Chunk, double Tokenize, double Embed, double EmbedBefore, double Gflop, double Cpu, double CpuBefore);

    public static async Task<int> SpeedAsync(int pageCount, int runs, string questionsPath)
    {
        var pdf = Pdf.TextPages(pageCount, 40, "speed");
        var service = LocalEmbedders.Create(Recall.MiniLm);
        using var before = new PackageEncoder();
        var wordPieces = TokenCounter.Named(TokenCounter.MiniLmWordPiece);
        await service.GenerateAsync(["warm up"]);
        before.Encode(["warm up"]);

        Console.WriteLine($"### Ingestion with all-MiniLM-L6-v2 in process ({pageCount} pages × 40 lines, {Environment.ProcessorCount} cores, load {Machine.LoadAverage()}; {runs} runs)");
        Console.WriteLine();
        Console.WriteLine("| run | chunks | extract s | chunk s | WordPieces counted again s | embed s | embed s, previous path | previous ÷ now | pages/s | chunks/s | model GFLOP/s | GFLOP a CPU-second, now / previous path |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|---|");
        var results = new List<Run>();
        for (var run = 1; run <= runs; run++)
        {
            var clock = Stopwatch.StartNew();
            var pages = await Recall.ExtractAsync(pdf);
            var extracted = clock.Elapsed.TotalSeconds;
            var chunks = Chunker.Split(pages, Recall.MiniLm, Recall.Uploads).Select(c => c.Content).ToArray();
            var chunked = clock.Elapsed.TotalSeconds - extracted;

            clock.Restart();
            var lengths = chunks.Select(c => wordPieces.Count(c) + 2).ToArray(); // + [CLS] and [SEP]
            var tokenized = clock.Elapsed.TotalSeconds;

            // CPU time as well as wall time: on a shared machine the wall time says how much of the cores this process got.
            double now = 0, previous = 0, cpu = 0, cpuBefore = 0;
            foreach (var servicePath in run % 2 == 1 ? new[] { true, false } : [false, true])
            {
                var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
                clock.Restart();
                if (servicePath) await Recall.EmbedAsync(service, chunks);
                else before.Encode(chunks);
                var cpuSpent = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds;
                if (servicePath) (now, cpu) = (clock.Elapsed.TotalSeconds, cpuSpent);
                else (previous, cpuBefore) = (clock.Elapsed.TotalSeconds, cpuSpent);
            }
            var gflop = lengths.Sum(n => n * FlopsPerToken(n)) / 1e9;
            var result = new Run(chunks.Length, lengths.Sum(n => (long)n), extracted, chunked, tokenized, now, previous, gflop, cpu, cpuBefore);
            results.Add(result);
            var total = extracted + chunked + now;
            Console.WriteLine($"| {run} | {chunks.Length} | {F(extracted)} | {F(chunked)} | {F(tokenized)} | {F(now)} | {F(previous)} | {F(previous / now)}× | " +
                              $"{F(pageCount / total, "0.0")} | {F(chunks.Length / total, "0.0")} | {F(gflop / now, "0")} | {F(gflop / cpu, "0")} / {F(gflop / cpuBefore, "0")} |");
        }
        var totals = results.Select(r => r.Extract + r.Chunk + r.Embed).ToList();
        Console.WriteLine($"| median (min…max) | {results[0].Chunks} | {Mmm(results.Select(r => r.Extract).ToList())} | {Mmm(results.Select(r => r.Chunk).ToList())} | " +
                          $"{Mmm(results.Select(r => r.Tokenize).ToList())} | {Mmm(results.Select(r => r.Embed).ToList())} | {Mmm(results.Select(r => r.EmbedBefore).ToList())} | " +
                          $"{Mmm(results.Select(r => r.EmbedBefore / r.Embed).ToList())}× | {Mmm(totals.Select(t => pageCount / t).ToList(), "0.0")} | " +
                          $"{Mmm(totals.Select((t, i) => results[i].Chunks / t).ToList(), "0.0")} | {Mmm(results.Select(r => r.Gflop / r.Embed).ToList(), "0")} | " +
                          $"{Mmm(results.Select(r => r.Gflop / r.Cpu).ToList(), "0")} / {Mmm(results.Select(r => r.Gflop / r.CpuBefore).ToList(), "0")} |");
        Console.WriteLine();
        var perPage = results[0].Gflop / pageCount;
        var rate = Stats.Median(results.Select(r => r.Gflop / r.Embed));
        var perCpu = Stats.Median(results.Select(r => r.Gflop / r.Cpu));
        Console.WriteLine($"The model's work: {F(perPage, "0.0")} GFLOP a page ({F((double)results[0].Chunks / pageCount, "0.0")} chunks of " +
                          $"{F((double)results[0].Tokens / results[0].Chunks, "0")} tokens: {F((double)results[0].Tokens / pageCount, "0")} tokens a page, overlap included); 50 pages/s asks {F(50 * perPage, "0")} GFLOP/s. " +
                          $"At the {F(rate, "0")} GFLOP/s measured here: {F(rate / perPage, "0.0")} pages/s for the model alone; with every core's " +
                          $"whole time at {F(perCpu, "0")} GFLOP a CPU-second: {F(Environment.ProcessorCount * perCpu / perPage, "0.0")} pages/s.");
        Console.WriteLine();

        var questions = File.ReadLines(questionsPath).Where(l => l.Length > 0 && l[0] != '#').Select(l => l.Split('\t')[1]).ToArray();
        Console.WriteLine($"### One question at a time ({questions.Length} questions, {runs} runs; ms a question)");
        Console.WriteLine();
        Console.WriteLine("| run | now, median | previous path, median | previous ÷ now |");
        Console.WriteLine("|---|---|---|---|");
        List<double> nowMs = [], previousMs = [];
        for (var run = 1; run <= runs; run++)
        {
            List<double> a = [], b = [];
            foreach (var question in questions)
            {
                var clock = Stopwatch.StartNew();
                await service.GenerateAsync([question]);
                a.Add(clock.Elapsed.TotalMilliseconds);
                clock.Restart();
                before.Encode([question]);
                b.Add(clock.Elapsed.TotalMilliseconds);
            }
            nowMs.Add(Stats.Median(a));
            previousMs.Add(Stats.Median(b));
            Console.WriteLine($"| {run} | {F(nowMs[^1])} | {F(previousMs[^1])} | {F(previousMs[^1] / nowMs[^1])}× |");
        }
        Console.WriteLine($"| median (min…max) | {Mmm(nowMs)} | {Mmm(previousMs)} | {Mmm(nowMs.Select((n, i) => previousMs[i] / n).ToList())}× |");
        Console.WriteLine();
        return 0;
    }
}
