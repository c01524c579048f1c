using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Dapper;
using DataBench;
using Npgsql;
using NpgsqlTypes;

// DataBench: the helper of bench/data/run.sh. Sub-commands (all loopback, all bounded):
//   history --base URL --token JWT [--runs 3] [--n 200] [--warmup 20]
//   vectors-seed --conn CS [--chunks 100000] [--dims 384] [--clusters 100] [--per-doc 1000]
//   vectors --conn CS [--runs 3] [--queries 200] [--ef 40,100,200]
//   pdf --base URL --token JWT [--runs 5]
//   cache --base URL --token JWT --admin-token JWT --fake-port PORT [--runs 3] [--n 100] [--prime 10] [--settle-ms 50]
//     (the service must run with AI__Endpoint=http://127.0.0.1:PORT/v1 and the model fake-gpt, provider openai: see run.sh)
// Figures go to STDOUT as Markdown; progress to STDERR.
var opts = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 1; i + 1 < args.Length; i += 2) opts[args[i].TrimStart('-')] = args[i + 1];
string Opt(string name, string? fallback = null) => opts.TryGetValue(name, out var v) ? v : fallback ?? throw new ArgumentException($"--{name} is required");
int IntOpt(string name, int fallback) => int.Parse(Opt(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

try
{
    return args.Length == 0 ? Usage() : args[0] switch
    {
        "history" => await History.RunAsync(Opt("base"), Opt("token"), IntOpt("runs", 3), IntOpt("n", 200), IntOpt("warmup", 20)),
        "vectors-seed" => await Vectors.SeedAsync(Opt("conn"), IntOpt("chunks", 100_000), IntOpt("dims", 384), IntOpt("clusters", 100), IntOpt("per-doc", 1000)),
        "vectors" => await Vectors.RunAsync(Opt("conn"), IntOpt("runs", 3), IntOpt("queries", 200), IntOpt("dims", 384), IntOpt("clusters", 100),
            Opt("ef", "40,100,200").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray()),
        "pdf" => await Uploads.RunAsync(Opt("base"), Opt("token"), IntOpt("runs", 5)),
        "cache" => await Cache.RunAsync(Opt("base"), Opt("token"), Opt("admin-token"), IntOpt("runs", 3), IntOpt("n", 100), int.Parse(Opt("fake-port"), CultureInfo.InvariantCulture), IntOpt("prime", 10), IntOpt("settle-ms", 50)),
        _ => Usage(),
    };
}
catch (Exception ex)
{
    Console.Error.WriteLine($"[DataBench] FAILED: {ex}");
    return 1;
}

static int Usage()
{
    Console.Error.WriteLine("usage: DataBench history|vectors-seed|vectors|pdf|cache --option value ... (see Program.cs)");
    return 2;
}

internal static class Http
{
    public static HttpClient Client(string baseUrl, string token) => new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
    {
        BaseAddress = new Uri(baseUrl),
        Timeout = TimeSpan.FromSeconds(60),
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", token) },
    };

    public static async Task<Guid> NewSessionAsync(HttpClient http, string title)
    {
        using var res = await http.PostAsync("/v1/chat/sessions", JsonContent(new { title }));
        var body = await res.Content.ReadAsStringAsync();
        if ((int)res.StatusCode != 201) throw new InvalidOperationException($"POST /v1/chat/sessions: {(int)res.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("id").GetGuid();
    }

    public static StringContent JsonContent(object value) =>
        new(JsonSerializer.Serialize(value), Encoding.UTF8, "application/json");

    public static void Log(string message) => Console.Error.WriteLine($"[DataBench] {message}");
}

/// <summary>Scenario 1: GET /v1/chat/history as the heavy user, through the running service.</summary>
internal static class History
{
    private const string Floor = "floor: GET /v1/models (same token and connection)";

    public static async Task<int> RunAsync(string baseUrl, string token, int runs, int n, int warmup)
    {
        using var http = Http.Client(baseUrl, token);
        var cases = new (string Name, string Url, int N)[]
        {
            ("page 1 (page_size 10, with messages)", "/v1/chat/history?page=1&page_size=10", n),
            ("deep page 90 (page_size 10, with messages)", "/v1/chat/history?page=90&page_size=10", n),
            ("page 1, q=zebracorn (with messages)", "/v1/chat/history?page=1&page_size=10&q=zebracorn", n),
            ("page 1, include_messages=false", "/v1/chat/history?page=1&page_size=10&include_messages=false", n),
            ("extra: page 1, q=quarterly (common word: 1/6 of all 1M messages)", "/v1/chat/history?page=1&page_size=10&q=quarterly", Math.Max(20, n / 4)),
            (Floor, "/v1/models", n),
        };
        // One warm-up pass over every case first (JIT, connection pool, PostgreSQL and OS caches).
        foreach (var (_, url, _) in cases) for (var i = 0; i < 3 * warmup; i++) await GetAsync(http, url);
        var perRun = cases.ToDictionary(c => c.Name, _ => new List<(double P50, double P95, double P99, double Mean)>());
        var info = new Dictionary<string, string>();
        for (var run = 1; run <= runs; run++)
            foreach (var (name, url, count) in cases)
            {
                for (var i = 0; i < warmup; i++) await GetAsync(http, url);
                var samples = new List<double>(count);
                for (var i = 0; i < count; i++)
                {
                    var sw = Stopwatch.StartNew();
                    var body = await GetAsync(http, url);
                    samples.Add(sw.Elapsed.TotalMilliseconds);
                    if (i == 0 && run == 1 && url.StartsWith("/v1/chat/history", StringComparison.Ordinal))
                    {
                        var root = JsonDocument.Parse(body).RootElement;
                        var sessions = root.GetProperty("sessions");
                        var messages = sessions.EnumerateArray().Sum(s => s.TryGetProperty("messages", out var m) ? m.GetArrayLength() : 0);
                        info[name] = $"total={root.GetProperty("total").GetInt64()}, sessions on page={sessions.GetArrayLength()}, messages on page={messages}, body={body.Length} B";
                    }
                }
                perRun[name].Add((Stats.Percentile(samples, 50), Stats.Percentile(samples, 95), Stats.Percentile(samples, 99), samples.Average()));
                Http.Log($"history run {run} {name}: p50 {Stats.F(perRun[name][^1].P50)} p95 {Stats.F(perRun[name][^1].P95)} p99 {Stats.F(perRun[name][^1].P99)} ms");
            }

        Console.WriteLine($"### History listing (GET /v1/chat/history as `heavy`; {runs} runs × {n} sequential requests (the extra case: {Math.Max(20, n / 4)}) after a warm-up pass and {warmup} warm-up requests per case per run, one keep-alive connection)");
        Console.WriteLine();
        Console.WriteLine("| request | p50 ms | p95 ms | p99 ms | p95 ÷ floor p95 (per run) | response |");
        Console.WriteLine("|---|---|---|---|---|---|");
        var floor = perRun[Floor];
        List<double> RatioToFloor(string name) => [.. perRun[name].Zip(floor, (c, f) => c.P95 / f.P95)];
        foreach (var (name, _, _) in cases)
        {
            var r = perRun[name];
            Console.WriteLine($"| {name} | {Stats.Mmm(r.Select(x => x.P50).ToList())} | {Stats.Mmm(r.Select(x => x.P95).ToList())} | {Stats.Mmm(r.Select(x => x.P99).ToList())} | {Stats.Mmm(RatioToFloor(name), "0.0")}× | {info.GetValueOrDefault(name)} |");
        }
        Console.WriteLine();
        Console.WriteLine($"The floor is `GET /v1/models` on the same connection with the same token: authentication, routing and a JSON response, no query.");
        Console.WriteLine();
        Results.Write("history", cases.ToDictionary(c => c.Name, c => new
        {
            url = c.Url,
            p50_ms = Stats.Json([.. perRun[c.Name].Select(x => x.P50)]),
            p95_ms = Stats.Json([.. perRun[c.Name].Select(x => x.P95)]),
            p99_ms = Stats.Json([.. perRun[c.Name].Select(x => x.P99)]),
            p95_ratio_to_floor = Stats.Json(RatioToFloor(c.Name)),
        }));
        return 0;
    }

    private static async Task<string> GetAsync(HttpClient http, string url)
    {
        using var res = await http.GetAsync(url);
        var body = await res.Content.ReadAsStringAsync();
        if (!res.IsSuccessStatusCode) throw new InvalidOperationException($"GET {url}: {(int)res.StatusCode} {body}");
        return body;
    }
}

/// <summary>Scenario 2: ANN (HNSW) vs exact retrieval over the chunks table, with the Retriever's SQL.</summary>
internal static class Vectors
{
    private const string Model = "local-embed";
    private const int Seed = 20261122;

    private static float[][] Centroids(int clusters, int dims)
    {
        var rng = new Random(Seed);
        return Enumerable.Range(0, clusters).Select(_ => Normalise(Enumerable.Range(0, dims).Select(_ => Gaussian(rng)).ToArray())).ToArray();
    }

    /// <summary>A unit vector near a centroid: centroid + Gaussian noise of the same expected norm (cosine to it ≈ 0.7).</summary>
    private static float[] Near(float[] centroid, Random rng)
    {
        var sd = 1.0 / Math.Sqrt(centroid.Length);
        return Normalise(centroid.Select(c => (float)(c + Gaussian(rng) * sd)).ToArray());
    }

    private static float Gaussian(Random rng) =>
        (float)(Math.Sqrt(-2.0 * Math.Log(1.0 - rng.NextDouble())) * Math.Cos(2.0 * Math.PI * rng.NextDouble()));

    private static float[] Normalise(float[] v)
    {
        var norm = Math.Sqrt(v.Sum(x => (double)x * x));
        return v.Select(x => (float)(x / norm)).ToArray();
    }

    /// <summary>pgvector's binary (vector_recv) format: int16 dims, int16 unused, float4 × dims, big-endian.</summary>
    private static byte[] Binary(float[] v)
    {
        var bytes = new byte[4 + 4 * v.Length];
        BinaryPrimitives.WriteInt16BigEndian(bytes, (short)v.Length);
        for (var i = 0; i < v.Length; i++) BinaryPrimitives.WriteSingleBigEndian(bytes.AsSpan(4 + 4 * i), v[i]);
        return bytes;
    }

    private static string Text(float[] v) => "[" + string.Join(",", v.Select(x => x.ToString("R", CultureInfo.InvariantCulture))) + "]";

    public static async Task<int> SeedAsync(string conn, int chunks, int dims, int clusters, int perDoc)
    {
        await using var db = new NpgsqlConnection(conn);
        await db.OpenAsync();
        var docs = (chunks + perDoc - 1) / perDoc;
        var sw = Stopwatch.StartNew();
        await db.ExecuteAsync("""
            INSERT INTO users (id, name) VALUES ('vecbench', 'vector bench') ON CONFLICT DO NOTHING;
            INSERT INTO chat_sessions (id, user_id, model, title)
            SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 'vecbench', 'local-chat', 'vector bench ' || g
            FROM generate_series(1, @docs) g;
            INSERT INTO documents (id, session_id, uploaded_by, filename, mime_type, file_size, sha256, content, page_count)
            SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(g), 12, '0'))::uuid, ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid,
                   'vecbench', 'bench-' || g || '.pdf', 'application/pdf', 1, md5(g::text), '\x00'::bytea, 1
            FROM generate_series(1, @docs) g;
            """, new { docs });

        // The service made the HNSW index at start-up on an empty table: drop it, bulk-load, rebuild it with the same definition.
        var indexes = (await db.QueryAsync<(string Name, string Def)>(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'chunks' AND indexdef ILIKE '%USING hnsw%'")).AsList();
        if (indexes.Count == 0) throw new InvalidOperationException("No HNSW index on chunks: start the service once first.");
        foreach (var (name, _) in indexes) await db.ExecuteAsync($"DROP INDEX {name}");

        var centroids = Centroids(clusters, dims);
        var rng = new Random(Seed + 1);
        await using (var writer = await db.BeginBinaryImportAsync(
            "COPY chunks (id, document_id, session_id, embedding_model, ordinal, page_from, page_to, content, embedding) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < chunks; i++)
            {
                var doc = i / perDoc + 1;
                var cluster = rng.Next(clusters);
                await writer.StartRowAsync();
                await writer.WriteAsync(Guid.CreateVersion7(), NpgsqlDbType.Uuid);
                await writer.WriteAsync(Guid.Parse($"00000000-0000-4000-9000-{doc:x12}"), NpgsqlDbType.Uuid);
                await writer.WriteAsync(Guid.Parse($"00000000-0000-4000-8000-{doc:x12}"), NpgsqlDbType.Uuid);
                await writer.WriteAsync(Model, NpgsqlDbType.Text);
                await writer.WriteAsync(i % perDoc, NpgsqlDbType.Integer);
                await writer.WriteAsync(1, NpgsqlDbType.Integer);
                await writer.WriteAsync(1, NpgsqlDbType.Integer);
                await writer.WriteAsync($"bench chunk {i} of document {doc} in cluster {cluster}", NpgsqlDbType.Text);
                await writer.WriteAsync(Binary(Near(centroids[cluster], rng)), NpgsqlDbType.Bytea); // raw vector_recv bytes
            }
            await writer.CompleteAsync();
        }
        var loaded = sw.Elapsed.TotalSeconds;
        Http.Log($"loaded {chunks} chunks in {loaded:0.0} s; building the HNSW index");
        sw.Restart();
        await db.ExecuteAsync("SET maintenance_work_mem = '1GB'; SET max_parallel_maintenance_workers = 1");
        foreach (var (_, def) in indexes) await db.ExecuteAsync(def, commandTimeout: 0);
        var built = sw.Elapsed.TotalSeconds;
        await db.ExecuteAsync("ANALYZE chunks; ANALYZE documents;", commandTimeout: 0);
        var size = await db.ExecuteScalarAsync<string>($"SELECT pg_size_pretty(pg_relation_size('{indexes[0].Name}'))");
        Http.Log($"index built in {built:0.0} s ({size})");
        Console.WriteLine($"Vector seed: {chunks} chunks × {dims} dims in {docs} documents/sessions ({perDoc} chunks each), {clusters} clusters; " +
            $"COPY {Stats.F(loaded, "0.0")} s; HNSW build {Stats.F(built, "0.0")} s (maintenance_work_mem 1GB, 1 parallel worker), index size {size}.");
        Console.WriteLine();
        Console.WriteLine($"Index: `{indexes[0].Def}`");
        Console.WriteLine();
        return 0;
    }

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

    public static async Task<int> RunAsync(string conn, int runs, int queries, int dims, int clusters, int[] efs)
    {
        var centroids = Centroids(clusters, dims);
        var rng = new Random(Seed + 2);
        var sessions = await SessionsAsync(conn);
        var qs = Enumerable.Range(0, queries).Select(_ => (Vector: Text(Near(centroids[rng.Next(clusters)], rng)), Session: sessions[rng.Next(sessions.Count)])).ToArray();

        await using var ann = new NpgsqlConnection(conn);
        await ann.OpenAsync();
        await ann.ExecuteAsync("SET hnsw.iterative_scan = relaxed_order; SET hnsw.ef_search = 100");
        await using var exact = new NpgsqlConnection(conn);
        await exact.OpenAsync();
        await exact.ExecuteAsync("SET enable_indexscan = off; SET max_parallel_workers_per_gather = 0");

        List<HashSet<Guid>> truthFiltered = [];
        var exactP95Filtered = double.NaN;
        var figures = new List<object>();
        Console.WriteLine($"### Retrieval ({queries} query vectors near random cluster centroids; LIMIT 10; Retriever's SQL; one open connection; {runs} runs)");
        Console.WriteLine();
        var modes = new (string Label, bool Filtered, bool ForceHnsw)[]
        {
            ("Unfiltered (scope `true`)", false, false),
            ("Filtered to 1% (c.session_id = @SessionId, 1,000 of 100,000 chunks), planner's choice", true, false),
            ("Filtered to 1%, HNSW forced (SET enable_sort = off: what the iterative scan does when the planner picks the HNSW index)", true, true),
        };
        foreach (var (label, filtered, forceHnsw) in modes)
        {
            var scope = filtered ? "c.session_id = @SessionId" : "true";
            await ann.ExecuteAsync(forceHnsw ? "SET enable_sort = off" : "RESET enable_sort");
            var sql = Sql(scope);
            object Args(int q) => new { Query = qs[q].Vector, SessionId = qs[q].Session, Model, Filters = "{}", Limit = 10, Threshold = -2.0, Words = "" };

            var truth = forceHnsw ? truthFiltered : new List<HashSet<Guid>>();
            var exactMs = new List<double>();
            for (var q = 0; q < queries && !forceHnsw; q++)
            {
                var sw = Stopwatch.StartNew();
                truth.Add((await exact.QueryAsync<Guid>(sql, Args(q))).ToHashSet());
                exactMs.Add(sw.Elapsed.TotalMilliseconds);
            }
            if (filtered && !forceHnsw) (truthFiltered, exactP95Filtered) = (truth, Stats.Percentile(exactMs, 95));
            var exactP95 = forceHnsw ? exactP95Filtered : Stats.Percentile(exactMs, 95);
            Console.WriteLine(forceHnsw ? $"**{label}** — exact results as above; the first 30 of the query vectors, ef_search 100 only." : $"**{label}** — exact search " +
                $"(enable_indexscan = off, no parallel workers): p50 {Stats.F(Stats.Percentile(exactMs, 50))} ms, p95 {Stats.F(Stats.Percentile(exactMs, 95))} ms; " +
                $"result sizes min {truth.Min(t => t.Count)}.");
            Console.WriteLine();
            Console.WriteLine("| ef_search | recall@10 mean | recall@10 min (worst query) | queries with recall < 0.8 | p50 ms | p95 ms | p99 ms | queries returning < 10 |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|");
            var nq = forceHnsw ? Math.Min(30, queries) : queries; // the forced case is slow: its first 30 queries only
            foreach (var ef in forceHnsw ? [100] : efs)
            {
                await ann.ExecuteAsync($"SET hnsw.ef_search = {ef}");
                for (var q = 0; q < Math.Min(forceHnsw ? 3 : 20, nq); q++) await ann.QueryAsync<Guid>(sql, Args(q)); // warm-up
                var p50 = new List<double>(); var p95 = new List<double>(); var p99 = new List<double>(); var recalls = new List<double>(); var mins = new List<double>(); var shorts = new List<double>(); var lows = new List<double>();
                for (var run = 1; run <= runs; run++)
                {
                    var ms = new List<double>(nq);
                    var recall = new List<double>(nq);
                    var shortCount = 0;
                    for (var q = 0; q < nq; q++)
                    {
                        var sw = Stopwatch.StartNew();
                        var got = (await ann.QueryAsync<Guid>(sql, Args(q))).AsList();
                        ms.Add(sw.Elapsed.TotalMilliseconds);
                        if (got.Count < 10) shortCount++;
                        recall.Add(got.Count(truth[q].Contains) / 10.0);
                    }
                    p50.Add(Stats.Percentile(ms, 50)); p95.Add(Stats.Percentile(ms, 95)); p99.Add(Stats.Percentile(ms, 99));
                    recalls.Add(recall.Average()); mins.Add(recall.Min()); shorts.Add(shortCount); lows.Add(recall.Count(r => r < 0.8));
                    Http.Log($"vectors {label[..20]} ef {ef} run {run}: recall {recall.Average():0.000} p50 {p50[^1]:0.00} p95 {p95[^1]:0.00} ms");
                }
                figures.Add(new
                {
                    mode = label, ef_search = ef, queries = nq, recall_at_10 = Stats.Json(recalls), worst_query_recall = Stats.Json(mins),
                    p50_ms = Stats.Json(p50), p95_ms = Stats.Json(p95), p99_ms = Stats.Json(p99),
                    exact_search_p95_ms = Math.Round(exactP95, 3), p95_ratio_to_exact = Stats.Json([.. p95.Select(v => v / exactP95)]),
                });
                Console.WriteLine($"| {ef} | {Stats.Mmm(recalls, "0.000")} | {Stats.Mmm(mins, "0.0")} | {Stats.Mmm(lows, "0")} | {Stats.Mmm(p50)} | {Stats.Mmm(p95)} | {Stats.Mmm(p99)} | {Stats.Mmm(shorts, "0")} |");
            }
            Console.WriteLine();
            await ann.ExecuteAsync("SET hnsw.ef_search = 100");
            var plan = await ann.QueryAsync<string>("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, Args(0));
            Console.WriteLine($"<details><summary>EXPLAIN ANALYZE, {label}, ef_search 100</summary>");
            Console.WriteLine();
            Console.WriteLine("```");
            foreach (var line in plan) Console.WriteLine(System.Text.RegularExpressions.Regex.Replace(line, @"'\[[^\]]{40,}\]'", "'[…384 floats…]'"));
            Console.WriteLine("```");
            Console.WriteLine("</details>");
            Console.WriteLine();
        }
        Results.Write("retrieval", new { chunks = 100_000, limit = 10, runs, cases = figures });
        return 0;
    }

    private static async Task<List<Guid>> SessionsAsync(string conn)
    {
        await using var db = new NpgsqlConnection(conn);
        return (await db.QueryAsync<Guid>("SELECT DISTINCT session_id FROM chunks WHERE session_id IS NOT NULL ORDER BY 1")).AsList();
    }
}

/// <summary>Scenario 3: POST /v1/chat/sessions/{id}/upload of generated PDFs.</summary>
internal static class Uploads
{
    private static async Task<double> PdftotextSecondsAsync(byte[] pdf)
    {
        var path = Path.Combine(Path.GetTempPath(), $"databench-{Guid.NewGuid():N}.pdf");
        await File.WriteAllBytesAsync(path, pdf);
        try
        {
            var info = new ProcessStartInfo("pdftotext") { ArgumentList = { "-enc", "UTF-8", "-eol", "unix", path, "-" }, RedirectStandardOutput = true };
            var sw = Stopwatch.StartNew();
            using var process = Process.Start(info)!;
            await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            if (process.ExitCode != 0) throw new InvalidOperationException($"pdftotext exited with {process.ExitCode}");
            return sw.Elapsed.TotalSeconds;
        }
        finally
        {
            File.Delete(path);
        }
    }

    public static async Task<int> RunAsync(string baseUrl, string token, int runs)
    {
        using var http = Http.Client(baseUrl, token);
        var cases = new (string Name, int Pages, int PadTo)[]
        {
            ("200 pages × 40 lines, born-digital", 200, 0),
            ("~10 MB: 500 text pages (service max) + unreferenced padding", 500, 10_000_000),
        };
        Console.WriteLine($"### PDF upload (POST /v1/chat/sessions/{{id}}/upload, multipart `file`; a new session per upload; {runs} runs, after 1 warm-up)");
        Console.WriteLine();
        Console.WriteLine("| PDF | bytes | seconds | pages/s | `pdftotext` alone, pages/s | service ÷ `pdftotext` alone (per run) | response |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        var figures = new Dictionary<string, object>();
        foreach (var (name, pages, padTo) in cases)
        {
            var seconds = new List<double>();
            var floor = new List<double>();
            var size = 0;
            var info = "";
            for (var run = 0; run <= runs; run++)
            {
                var pdf = Pdf.TextPages(pages, 40, $"run{run}-{Guid.NewGuid():N}"[..16], padTo);
                size = pdf.Length;
                var session = await Http.NewSessionAsync(http, $"upload bench {run}");
                using var form = new MultipartFormDataContent();
                var file = new ByteArrayContent(pdf);
                file.Headers.ContentType = new MediaTypeHeaderValue("application/pdf");
                form.Add(file, "file", $"bench-{pages}.pdf");
                var sw = Stopwatch.StartNew();
                using var res = await http.PostAsync($"/v1/chat/sessions/{session}/upload", form);
                var body = await res.Content.ReadAsStringAsync();
                var elapsed = sw.Elapsed.TotalSeconds;
                if ((int)res.StatusCode != 201) throw new InvalidOperationException($"upload: {(int)res.StatusCode} {body[..Math.Min(400, body.Length)]}");
                var f = JsonDocument.Parse(body).RootElement.GetProperty("file");
                info = $"201, page_count={f.GetProperty("metadata").GetProperty("page_count")}, extracted_text={f.GetProperty("extracted_text").GetString()!.Length} chars";
                Http.Log($"upload {name} run {run}: {elapsed:0.000} s");
                if (run == 0) continue; // the warm-up
                seconds.Add(elapsed);
                floor.Add(await PdftotextSecondsAsync(pdf));
            }
            List<double> ratio = [.. seconds.Zip(floor, (service, alone) => alone / service)];
            Console.WriteLine($"| {name} | {size:N0} | {Stats.Mmm(seconds, "0.000")} | {Stats.Mmm(seconds.Select(s => pages / s).ToList(), "0")} | " +
                $"{Stats.Mmm(floor.Select(s => pages / s).ToList(), "0")} | {Stats.Mmm(ratio, "0.00")}× | {info} |");
            figures[name] = new
            {
                bytes = size, pages, seconds = Stats.Json(seconds), pages_per_s = Stats.Json([.. seconds.Select(s => pages / s)]),
                pdftotext_alone_pages_per_s = Stats.Json([.. floor.Select(s => pages / s)]), ratio_to_pdftotext_alone = Stats.Json(ratio),
            };
        }
        Console.WriteLine();
        Console.WriteLine("`pdftotext` alone: one `pdftotext -enc UTF-8 -eol unix FILE -` (the service's own call) over the same bytes, in the same run: the " +
            "extraction floor. The service also runs `pdfinfo`, splits the pages, chunks, embeds, and stores bytes, pages and chunks.");
        Console.WriteLine();
        Results.Write("pdf", figures);
        return 0;
    }
}

/// <summary>
/// Scenario 4: time to the first `text` event, semantic-cache hit vs miss, with the `openai` model `fake-gpt` served by the
/// in-process fake upstream (tests/FakeOpenAi) on loopback <c>fakePort</c>: 64 chunks, 20 ms apart. The embedder is the local one.
/// </summary>
internal static class Cache
{
    private const int Chunks = 64;
    private static readonly TimeSpan ChunkDelay = TimeSpan.FromMilliseconds(20);
    private const string Model = "fake-gpt";

    private static readonly string[] Words =
    [
        "amber", "basalt", "cobalt", "dynamo", "ember", "fjord", "glacier", "harbor", "indigo", "juniper", "kelp", "lantern", "meadow",
        "nebula", "orchid", "pylon", "quartz", "raven", "saffron", "tundra", "umbra", "velvet", "walnut", "xenon", "yarrow", "zephyr",
        "anvil", "beacon", "canyon", "delta", "falcon", "granite", "hollow", "island", "jasper", "kernel", "lagoon", "marble", "nickel",
        "oasis", "pepper", "quiver", "ribbon", "sierra", "thistle", "utopia", "vortex", "willow", "yonder", "zinc", "budget", "invoice",
        "latency", "pipeline", "quarterly", "schema", "tensor", "voltage", "harvest", "ledger", "mortgage", "orbit", "prism", "relay",
    ];

    public static async Task<int> RunAsync(string baseUrl, string token, string adminToken, int runs, int n, int fakePort, int prime, int settleMs)
    {
        await using var fake = new ChatSlices.Tests.Support.FakeUpstream(fakePort)
        {
            Script = ChatSlices.Tests.Support.FakeScript.Numbered(Chunks, ChunkDelay),
        };
        Http.Log($"fake upstream at {fake.BaseUrl}: {Chunks} chunks, {ChunkDelay.TotalMilliseconds} ms apart");
        using var admin = Http.Client(baseUrl, adminToken);
        using var http = Http.Client(baseUrl, token);
        using var created = await admin.PostAsync("/v1/assistants", Http.JsonContent(new { name = $"databench-{Guid.NewGuid():N}", model = Model }));
        var createdBody = await created.Content.ReadAsStringAsync();
        if ((int)created.StatusCode != 201) throw new InvalidOperationException($"POST /v1/assistants: {(int)created.StatusCode} {createdBody}");
        var assistant = JsonDocument.Parse(createdBody).RootElement.GetProperty("id").GetGuid();
        var rng = new Random(20261122);
        string Question() => $"{string.Join(' ', Enumerable.Range(0, 8).Select(_ => Words[rng.Next(Words.Length)]))} {rng.Next(1_000_000)}?";

        var miss = new List<(double P50, double P99)>();
        var hit = new List<(double P50, double P99)>();
        int missWrong = 0, hitWrong = 0, primeWrong = 0, hitReplies = 0, hitsTotal = 0, missesTotal = 0;
        double primeSeconds = 0;
        for (var run = 0; run <= runs; run++)
        {
            var count = run == 0 ? Math.Max(10, n / 5) : n; // run 0: warm-up
            // Prime: `prime` new questions answered in full by the fake (concurrently: not timed), so they are in the cache.
            var primed = Enumerable.Range(0, prime).Select(_ => Question()).ToArray();
            var before = fake.Requests.Count;
            var sw = Stopwatch.StartNew();
            var primedResults = await Task.WhenAll(primed.Select(q => AskAsync(http, assistant, q, stopAtFirstText: false)));
            primeSeconds = sw.Elapsed.TotalSeconds;
            if (fake.Requests.Count - before != prime) primeWrong += Math.Abs(fake.Requests.Count - before - prime);
            primeWrong += primedResults.Count(r => r.Cached || r.Texts == 0);

            var missMs = new List<double>(count);
            var hitMs = new List<double>(count);
            for (var i = 0; i < count; i++)
            {
                // Miss: a new question, new session; the fake is called. Stop reading at the first text event (the service
                // cancels the upstream call; an unfinished answer is not cached), then let the service settle.
                before = fake.Requests.Count;
                var m = await AskAsync(http, assistant, Question(), stopAtFirstText: true);
                if (fake.Requests.Count - before != 1) missWrong++;
                missMs.Add(m.Ttft);
                await Task.Delay(settleMs);
                // Hit: a primed question again, new session; answered from the cache, the fake is not called.
                before = fake.Requests.Count;
                var h = await AskAsync(http, assistant, primed[i % prime], stopAtFirstText: false);
                if (fake.Requests.Count - before != 0 || !h.Cached) hitWrong++;
                if (h.Texts > 0) hitReplies++;
                hitMs.Add(h.Ttft);
            }
            if (run == 0) continue;
            missesTotal += count; hitsTotal += count;
            miss.Add((Stats.Percentile(missMs, 50), Stats.Percentile(missMs, 99)));
            hit.Add((Stats.Percentile(hitMs, 50), Stats.Percentile(hitMs, 99)));
            Http.Log($"cache run {run}: miss p50 {miss[^1].P50:0.00} p99 {miss[^1].P99:0.00}; hit p50 {hit[^1].P50:0.00} p99 {hit[^1].P99:0.00} ms " +
                $"(hit p95 {Stats.Percentile(hitMs, 95):0.00} max {hitMs.Max():0.00}, hits > 10 ms: {hitMs.Count(x => x > 10)}; miss max {missMs.Max():0.00}; " +
                $"priming {prime} answers took {primeSeconds:0.00} s; fake requests so far {fake.Requests.Count})");
        }
        var hitP99 = Stats.Median(hit.Select(x => x.P99).ToList());
        Console.WriteLine($"### Semantic cache: time to first `text` event (POST /v1/chat/stream with assistant_id, context_mode none, new session each; " +
            $"model {Model} = fake OpenAI upstream, {Chunks} chunks {ChunkDelay.TotalMilliseconds:0} ms apart; embedder local-embed; " +
            $"{runs} runs × {n} misses + {n} hits, interleaved, {settleMs} ms pause after each miss, after a warm-up run of {Math.Max(10, n / 5)} each)");
        Console.WriteLine();
        Console.WriteLine("| turn | TTFT p50 ms | TTFT p99 ms |");
        Console.WriteLine("|---|---|---|");
        Console.WriteLine($"| miss (new question; fake called) | {Stats.Mmm(miss.Select(x => x.P50).ToList())} | {Stats.Mmm(miss.Select(x => x.P99).ToList())} |");
        Console.WriteLine($"| hit (cached question, new session; fake not called) | {Stats.Mmm(hit.Select(x => x.P50).ToList())} | {Stats.Mmm(hit.Select(x => x.P99).ToList())} |");
        Console.WriteLine($"| ratio hit/miss (per run) | {Stats.Mmm(hit.Zip(miss, (h, m) => h.P50 / m.P50).ToList(), "0.000")} | {Stats.Mmm(hit.Zip(miss, (h, m) => h.P99 / m.P99).ToList(), "0.000")} |");
        Console.WriteLine();
        Console.WriteLine($"**Target hit p99 ≤ 10 ms: {(hitP99 <= 10 ? "met" : "NOT met")}** (median of the runs' p99 {Stats.F(hitP99)} ms; worst run {Stats.F(hit.Max(x => x.P99))} ms).");
        Console.WriteLine();
        Console.WriteLine($"Checks (warm-up included; fake `Requests` count around every request, `done.cached`): misses that did not call the fake exactly once: {missWrong}; " +
            $"hits that called the fake or were not `cached`: {hitWrong}; priming answers that were cached or empty, or fake calls ≠ one per priming question: {primeWrong}. " +
            $"Fake requests in all: {fake.Requests.Count}. Priming: {prime} questions per run, answered concurrently (last run {Stats.F(primeSeconds)} s).");
        Console.WriteLine();
        Results.Write("cache", new
        {
            miss_ttft_p50_ms = Stats.Json([.. miss.Select(x => x.P50)]), miss_ttft_p99_ms = Stats.Json([.. miss.Select(x => x.P99)]),
            hit_ttft_p50_ms = Stats.Json([.. hit.Select(x => x.P50)]), hit_ttft_p99_ms = Stats.Json([.. hit.Select(x => x.P99)]),
            hit_to_miss_ratio_p50 = Stats.Json([.. hit.Zip(miss, (h, m) => h.P50 / m.P50)]), hit_to_miss_ratio_p99 = Stats.Json([.. hit.Zip(miss, (h, m) => h.P99 / m.P99)]),
            wrong = new { misses = missWrong, hits = hitWrong, priming = primeWrong },
        });
        return missWrong + hitWrong + primeWrong == 0 ? 0 : 3;
    }

    private static async Task<(double Ttft, bool Cached, int Texts)> AskAsync(HttpClient http, Guid assistant, string question, bool stopAtFirstText)
    {
        using var req = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/stream")
        {
            Content = Http.JsonContent(new { query = question, assistant_id = assistant, context_mode = "none" }),
        };
        var sw = Stopwatch.StartNew();
        using var res = await http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead);
        if (!res.IsSuccessStatusCode) throw new InvalidOperationException($"POST /v1/chat/stream: {(int)res.StatusCode} {await res.Content.ReadAsStringAsync()}");
        using var reader = new StreamReader(await res.Content.ReadAsStreamAsync());
        double ttft = -1;
        var cached = false;
        var texts = 0;
        string? evt = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("event:", StringComparison.Ordinal)) evt = line[6..].Trim();
            else if (line.StartsWith("data:", StringComparison.Ordinal))
            {
                if (evt == "text")
                {
                    texts++;
                    if (ttft < 0) ttft = sw.Elapsed.TotalMilliseconds;
                    if (stopAtFirstText) break;
                }
                if (evt == "error") throw new InvalidOperationException($"error event: {line}");
                if (evt == "done") cached = JsonDocument.Parse(line[5..]).RootElement.TryGetProperty("cached", out var c) && c.ValueKind == JsonValueKind.True;
            }
        }
        if (ttft < 0) throw new InvalidOperationException("the stream had no text event");
        return (ttft, cached, texts);
    }
}
