using System.Diagnostics;
using System.Text.Json;
using ChatSlices.Bench.Common;
using ChatSlices.Tests.Support;
using static ChatSlices.Bench.Common.Figures;

namespace DataBench;

/// <summary>
/// Scenario 4: time to the first `text` event, semantic-cache hit vs miss, with the `openai` model `fake-gpt` served by the
/// in-process fake upstream (tests/FakeOpenAi) on loopback <c>fakePort</c>: 64 chunks, 20 ms apart. The embedder is the local one.
/// </summary>
internal static class SemanticCache
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

    /// <summary>What one scenario run saw: per run the TTFT percentiles of misses and hits, and every check that failed.</summary>
    private sealed class Tally
    {
        public List<(double P50, double P99)> Miss { get; } = [];
        public List<(double P50, double P99)> Hit { get; } = [];
        public int MissWrong { get; set; }
        public int HitWrong { get; set; }
        public int PrimeWrong { get; set; }
        public double PrimeSeconds { get; set; }
        public int Wrong => MissWrong + HitWrong + PrimeWrong;
    }

    public static async Task<int> RunAsync(string baseUrl, string token, string adminToken, int runs, int n, int fakePort, int prime, int settleMs)
    {
        await using var fake = new FakeUpstream(fakePort) { Script = FakeScript.Numbered(Chunks, ChunkDelay) };
        ServiceHttp.Log($"fake upstream at {fake.BaseUrl}: {Chunks} chunks, {ChunkDelay.TotalMilliseconds} ms apart");
        using var admin = ServiceHttp.Client(baseUrl, adminToken);
        using var http = ServiceHttp.Client(baseUrl, token);
        var assistant = await CreateAssistantAsync(admin);
        var rng = new Random(20261122);
        string Question() => $"{string.Join(' ', Enumerable.Range(0, 8).Select(_ => Words[rng.Next(Words.Length)]))} {rng.Next(1_000_000)}?";

        var tally = new Tally();
        for (var run = 0; run <= runs; run++)
        {
            var count = run == 0 ? Math.Max(10, n / 5) : n; // run 0: warm-up
            var (missMs, hitMs) = await RoundAsync(fake, http, assistant, Question, count, prime, settleMs, tally);
            if (run == 0) continue;
            tally.Miss.Add((Stats.Percentile(missMs, 50), Stats.Percentile(missMs, 99)));
            tally.Hit.Add((Stats.Percentile(hitMs, 50), Stats.Percentile(hitMs, 99)));
            ServiceHttp.Log($"cache run {run}: miss p50 {tally.Miss[^1].P50:0.00} p99 {tally.Miss[^1].P99:0.00}; hit p50 {tally.Hit[^1].P50:0.00} p99 {tally.Hit[^1].P99:0.00} ms " +
                $"(hit p95 {Stats.Percentile(hitMs, 95):0.00} max {hitMs.Max():0.00}, hits > 10 ms: {hitMs.Count(x => x > 10)}; miss max {missMs.Max():0.00}; " +
                $"priming {prime} answers took {tally.PrimeSeconds:0.00} s; fake requests so far {fake.Requests.Count})");
        }
        Print(tally, fake.Requests.Count, runs, n, prime, settleMs);
        return tally.Wrong == 0 ? 0 : 3;
    }

    private static async Task<Guid> CreateAssistantAsync(HttpClient admin)
    {
        using var created = await admin.PostAsync("/v1/assistants", ServiceHttp.JsonContent(new { name = $"databench-{Guid.NewGuid():N}", model = Model }));
        var createdBody = await created.Content.ReadAsStringAsync();
        if ((int)created.StatusCode != 201) throw new InvalidOperationException($"POST /v1/assistants: {(int)created.StatusCode} {createdBody}");
        return JsonDocument.Parse(createdBody).RootElement.GetProperty("id").GetGuid();
    }

    /// <summary>
    /// One round: <paramref name="prime"/> new questions answered in full (so they are cached), then <paramref name="count"/>
    /// misses and hits interleaved. Returns their TTFTs (ms); the checks go into <paramref name="tally"/>.
    /// </summary>
    private static async Task<(List<double> MissMs, List<double> HitMs)> RoundAsync(FakeUpstream fake, HttpClient http, Guid assistant,
        Func<string> question, int count, int prime, int settleMs, Tally tally)
    {
        // Prime: `prime` new questions answered in full by the fake (concurrently: not timed), so they are in the cache.
        var primed = Enumerable.Range(0, prime).Select(_ => question()).ToArray();
        var before = fake.Requests.Count;
        var sw = Stopwatch.StartNew();
        var primedResults = await Task.WhenAll(primed.Select(q => AskAsync(http, assistant, q, stopAtFirstText: false)));
        tally.PrimeSeconds = sw.Elapsed.TotalSeconds;
        if (fake.Requests.Count - before != prime) tally.PrimeWrong += Math.Abs(fake.Requests.Count - before - prime);
        tally.PrimeWrong += primedResults.Count(r => r.Cached || r.Texts == 0);

        var missMs = new List<double>(count);
        var hitMs = new List<double>(count);
        for (var i = 0; i < count; i++)
        {
            // Miss: a new question, new session; the fake is called. Stop reading at the first text event (the service
            // cancels the upstream call; an unfinished answer is not cached), then let the service settle.
            before = fake.Requests.Count;
            var m = await AskAsync(http, assistant, question(), stopAtFirstText: true);
            if (fake.Requests.Count - before != 1) tally.MissWrong++;
            missMs.Add(m.Ttft);
            await Task.Delay(settleMs);
            // Hit: a primed question again, new session; answered from the cache, the fake is not called.
            before = fake.Requests.Count;
            var h = await AskAsync(http, assistant, primed[i % prime], stopAtFirstText: false);
            if (fake.Requests.Count - before != 0 || !h.Cached) tally.HitWrong++;
            hitMs.Add(h.Ttft);
        }
        return (missMs, hitMs);
    }

    private static void Print(Tally tally, int fakeRequests, int runs, int n, int prime, int settleMs)
    {
        var (miss, hit) = (tally.Miss, tally.Hit);
        var hitP99 = Stats.Median(hit.Select(x => x.P99).ToList());
        Console.WriteLine($"### Semantic cache: time to first `text` event (POST /v1/chat/stream with assistant_id, context_mode none, new session each; " +
            $"model {Model} = fake OpenAI upstream, {Chunks} chunks {ChunkDelay.TotalMilliseconds:0} ms apart; embedder local-embed; " +
            $"{runs} runs × {n} misses + {n} hits, interleaved, {settleMs} ms pause after each miss, after a warm-up run of {Math.Max(10, n / 5)} each)");
        Console.WriteLine();
        Console.WriteLine("| turn | TTFT p50 ms | TTFT p99 ms |");
        Console.WriteLine("|---|---|---|");
        Console.WriteLine($"| miss (new question; fake called) | {DataResults.Mmm(miss.Select(x => x.P50).ToList())} | {DataResults.Mmm(miss.Select(x => x.P99).ToList())} |");
        Console.WriteLine($"| hit (cached question, new session; fake not called) | {DataResults.Mmm(hit.Select(x => x.P50).ToList())} | {DataResults.Mmm(hit.Select(x => x.P99).ToList())} |");
        Console.WriteLine($"| ratio hit/miss (per run) | {DataResults.Mmm(hit.Zip(miss, (h, m) => h.P50 / m.P50).ToList(), "0.000")} | {DataResults.Mmm(hit.Zip(miss, (h, m) => h.P99 / m.P99).ToList(), "0.000")} |");
        Console.WriteLine();
        Console.WriteLine($"**Target hit p99 ≤ 10 ms: {(hitP99 <= 10 ? "met" : "NOT met")}** (median of the runs' p99 {F(hitP99)} ms; worst run {F(hit.Max(x => x.P99))} ms).");
        Console.WriteLine();
        Console.WriteLine($"Checks (warm-up included; fake `Requests` count around every request, `done.cached`): misses that did not call the fake exactly once: {tally.MissWrong}; " +
            $"hits that called the fake or were not `cached`: {tally.HitWrong}; priming answers that were cached or empty, or fake calls ≠ one per priming question: {tally.PrimeWrong}. " +
            $"Fake requests in all: {fakeRequests}. Priming: {prime} questions per run, answered concurrently (last run {F(tally.PrimeSeconds)} s).");
        Console.WriteLine();
        DataResults.Write("cache", new
        {
            miss_ttft_p50_ms = Json([.. miss.Select(x => x.P50)]), miss_ttft_p99_ms = Json([.. miss.Select(x => x.P99)]),
            hit_ttft_p50_ms = Json([.. hit.Select(x => x.P50)]), hit_ttft_p99_ms = Json([.. hit.Select(x => x.P99)]),
            hit_to_miss_ratio_p50 = Json([.. hit.Zip(miss, (h, m) => h.P50 / m.P50)]), hit_to_miss_ratio_p99 = Json([.. hit.Zip(miss, (h, m) => h.P99 / m.P99)]),
            wrong = new { misses = tally.MissWrong, hits = tally.HitWrong, priming = tally.PrimeWrong },
        });
    }

    private static async Task<(double Ttft, bool Cached, int Texts)> AskAsync(HttpClient http, Guid assistant, string question, bool stopAtFirstText)
    {
        using var req = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/stream")
        {
            Content = ServiceHttp.JsonContent(new { query = question, assistant_id = assistant, context_mode = "none" }),
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
