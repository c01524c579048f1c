using System.Diagnostics;
using System.Text.RegularExpressions;
using ChatSlices.Bench.Common;
using Dapper;
using Npgsql;
using static ChatSlices.Bench.Common.Figures;

namespace DataBench;

/// <summary>
/// Scenario 2: ANN (HNSW) vs exact retrieval over the chunks table (seeded by <see cref="VectorData"/>), with the Retriever's
/// SQL: recall@10 and latency per ef_search, unfiltered, filtered to 1%, and filtered with the HNSW index forced.
/// </summary>
internal static partial class Retrieval
{
    // Retriever's vector query (Infrastructure/Retrieval/Retriever.cs, SearchAsync) with @Words = '' and {scope} filled in.
    private static string Sql(string scope) => $"""
        WITH hits AS MATERIALIZED (
            SELECT c.id AS chunk_id, c.document_id, c.page_from, c.page_to, c.content,
                   c.embedding::vector(384) <=> @Query::vector(384) AS distance
            FROM chunks c
            WHERE c.embedding_model = @Model AND {scope} AND c.metadata @> @Filters::jsonb
            ORDER BY c.embedding::vector(384) <=> @Query::vector(384)
            LIMIT @Limit
        )
        SELECT h.chunk_id, h.document_id, coalesce(d.metadata->>'title', d.filename) AS title, h.content,
               CASE WHEN h.page_from = h.page_to OR @Words = '' THEN h.page_from ELSE coalesce((
                   SELECT p.page FROM document_pages p
                   WHERE p.document_id = h.document_id AND p.page BETWEEN h.page_from AND h.page_to
                   ORDER BY ts_rank(to_tsvector('simple', p.text), to_tsquery('simple', @Words)) DESC, p.page
                   LIMIT 1), h.page_from) END AS page, 1 - h.distance AS score
        FROM hits h JOIN documents d ON d.id = h.document_id
        WHERE 1 - h.distance >= @Threshold
        ORDER BY h.distance
        """;

    private sealed record Mode(string Label, bool Filtered, bool ForceHnsw);

    /// <summary>One run of the scenario: its two connections, its query vectors, the exact results of the filtered mode, the figures.</summary>
    private sealed class Context(NpgsqlConnection ann, NpgsqlConnection exact, (string Vector, Guid Session)[] qs, int runs)
    {
        public NpgsqlConnection Ann => ann;
        public NpgsqlConnection Exact => exact;
        public int Queries => qs.Length;
        public int Runs => runs;
        public List<HashSet<Guid>> TruthFiltered { get; set; } = [];
        public double ExactP95Filtered { get; set; } = double.NaN;
        public List<object> Cases { get; } = [];

        public object Args(int q) => new { Query = qs[q].Vector, SessionId = qs[q].Session, VectorData.Model, Filters = "{}", Limit = 10, Threshold = -2.0, Words = "" };
    }

    public static async Task<int> RunAsync(string conn, int runs, int queries, int dims, int clusters, int[] efs)
    {
        var centroids = VectorData.Centroids(clusters, dims);
        var rng = VectorData.QueryRandom();
        var sessions = await SessionsAsync(conn);
        var qs = Enumerable.Range(0, queries).Select(_ => (Vector: VectorData.Text(VectorData.Near(centroids[rng.Next(clusters)], rng)), Session: sessions[rng.Next(sessions.Count)])).ToArray();

        await using var ann = new NpgsqlConnection(conn);
        await ann.OpenAsync();
        await ann.ExecuteAsync("SET hnsw.iterative_scan = relaxed_order; SET hnsw.ef_search = 100");
        await using var exact = new NpgsqlConnection(conn);
        await exact.OpenAsync();
        await exact.ExecuteAsync("SET enable_indexscan = off; SET max_parallel_workers_per_gather = 0");
        var context = new Context(ann, exact, qs, runs);

        Console.WriteLine($"### Retrieval ({queries} query vectors near random cluster centroids; LIMIT 10; Retriever's SQL; one open connection; {runs} runs)");
        Console.WriteLine();
        Mode[] modes =
        [
            new("Unfiltered (scope `true`)", false, false),
            new("Filtered to 1% (c.session_id = @SessionId, 1,000 of 100,000 chunks), planner's choice", true, false),
            new("Filtered to 1%, HNSW forced (SET enable_sort = off: what the iterative scan does when the planner picks the HNSW index)", true, true),
        ];
        foreach (var mode in modes) await ModeAsync(context, mode, efs);
        DataResults.Write("retrieval", new { chunks = 100_000, limit = 10, runs, cases = context.Cases });
        return 0;
    }

    private static async Task ModeAsync(Context context, Mode mode, int[] efs)
    {
        var (label, filtered, forceHnsw) = mode;
        var scope = filtered ? "c.session_id = @SessionId" : "true";
        await context.Ann.ExecuteAsync(forceHnsw ? "SET enable_sort = off" : "RESET enable_sort");
        var sql = Sql(scope);
        var (truth, exactP95) = await ExactAsync(context, mode, sql);
        Console.WriteLine("| ef_search | recall@10 mean | recall@10 min (worst query) | queries with recall < 0.8 | p50 ms | p95 ms | p99 ms | queries returning < 10 |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        var nq = forceHnsw ? Math.Min(30, context.Queries) : context.Queries; // the forced case is slow: its first 30 queries only
        foreach (var ef in forceHnsw ? [100] : efs) await EfSearchAsync(context, mode, sql, ef, nq, truth, exactP95);
        Console.WriteLine();
        await PrintPlanAsync(context, label, sql);
    }

    /// <summary>The exact results (the truth for recall) and their p95 latency; the forced mode reuses the filtered mode's.</summary>
    private static async Task<(List<HashSet<Guid>> Truth, double ExactP95)> ExactAsync(Context context, Mode mode, string sql)
    {
        var (label, filtered, forceHnsw) = mode;
        var truth = forceHnsw ? context.TruthFiltered : new List<HashSet<Guid>>();
        var exactMs = new List<double>();
        for (var q = 0; q < context.Queries && !forceHnsw; q++)
        {
            var sw = Stopwatch.StartNew();
            truth.Add((await context.Exact.QueryAsync<Guid>(sql, context.Args(q))).ToHashSet());
            exactMs.Add(sw.Elapsed.TotalMilliseconds);
        }
        if (filtered && !forceHnsw) (context.TruthFiltered, context.ExactP95Filtered) = (truth, Stats.Percentile(exactMs, 95));
        var exactP95 = forceHnsw ? context.ExactP95Filtered : Stats.Percentile(exactMs, 95);
        Console.WriteLine(forceHnsw ? $"**{label}** — exact results as above; the first 30 of the query vectors, ef_search 100 only." : $"**{label}** — exact search " +
            $"(enable_indexscan = off, no parallel workers): p50 {F(Stats.Percentile(exactMs, 50))} ms, p95 {F(Stats.Percentile(exactMs, 95))} ms; " +
            $"result sizes min {truth.Min(t => t.Count)}.");
        Console.WriteLine();
        return (truth, exactP95);
    }

    /// <summary>One ef_search: a warm-up, then every run over the first <paramref name="nq"/> queries; one row of the table.</summary>
    private static async Task EfSearchAsync(Context context, Mode mode, string sql, int ef, int nq, List<HashSet<Guid>> truth, double exactP95)
    {
        var ann = context.Ann;
        var label = mode.Label;
        await ann.ExecuteAsync($"SET hnsw.ef_search = {ef}");
        for (var q = 0; q < Math.Min(mode.ForceHnsw ? 3 : 20, nq); q++) await ann.QueryAsync<Guid>(sql, context.Args(q)); // warm-up
        var p50 = new List<double>(); var p95 = new List<double>(); var p99 = new List<double>(); var recalls = new List<double>(); var mins = new List<double>(); var shorts = new List<double>(); var lows = new List<double>();
        for (var run = 1; run <= context.Runs; run++)
        {
            var ms = new List<double>(nq);
            var recall = new List<double>(nq);
            var shortCount = 0;
            for (var q = 0; q < nq; q++)
            {
                var sw = Stopwatch.StartNew();
                var got = (await ann.QueryAsync<Guid>(sql, context.Args(q))).AsList();
                ms.Add(sw.Elapsed.TotalMilliseconds);
                if (got.Count < 10) shortCount++;
                recall.Add(got.Count(truth[q].Contains) / 10.0);
            }
            p50.Add(Stats.Percentile(ms, 50)); p95.Add(Stats.Percentile(ms, 95)); p99.Add(Stats.Percentile(ms, 99));
            recalls.Add(recall.Average()); mins.Add(recall.Min()); shorts.Add(shortCount); lows.Add(recall.Count(r => r < 0.8));
            ServiceHttp.Log($"vectors {label[..20]} ef {ef} run {run}: recall {recall.Average():0.000} p50 {p50[^1]:0.00} p95 {p95[^1]:0.00} ms");
        }
        context.Cases.Add(new
        {
            mode = label, ef_search = ef, queries = nq, recall_at_10 = Json(recalls), worst_query_recall = Json(mins),
            p50_ms = Json(p50), p95_ms = Json(p95), p99_ms = Json(p99),
            exact_search_p95_ms = Math.Round(exactP95, 3), p95_ratio_to_exact = Json([.. p95.Select(v => v / exactP95)]),
        });
        Console.WriteLine($"| {ef} | {DataResults.Mmm(recalls, "0.000")} | {DataResults.Mmm(mins, "0.0")} | {DataResults.Mmm(lows, "0")} | {DataResults.Mmm(p50)} | {DataResults.Mmm(p95)} | {DataResults.Mmm(p99)} | {DataResults.Mmm(shorts, "0")} |");
    }

    [GeneratedRegex(@"'\[[^\]]{40,}\]'")]
    private static partial Regex VectorLiteral();

    private static async Task PrintPlanAsync(Context context, string label, string sql)
    {
        await context.Ann.ExecuteAsync("SET hnsw.ef_search = 100");
        var plan = await context.Ann.QueryAsync<string>("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, context.Args(0));
        Console.WriteLine($"<details><summary>EXPLAIN ANALYZE, {label}, ef_search 100</summary>");
        Console.WriteLine();
        Console.WriteLine("```");
        foreach (var line in plan) Console.WriteLine(VectorLiteral().Replace(line, "'[…384 floats…]'"));
        Console.WriteLine("```");
        Console.WriteLine("</details>");
        Console.WriteLine();
    }

    private static async Task<List<Guid>> SessionsAsync(string conn)
    {
        await using var db = new NpgsqlConnection(conn);
        return (await db.QueryAsync<Guid>("SELECT DISTINCT session_id FROM chunks WHERE session_id IS NOT NULL ORDER BY 1")).AsList();
    }
}
