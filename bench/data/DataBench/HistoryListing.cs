using System.Diagnostics;
using System.Text.Json;
using ChatSlices.Bench.Common;
using static ChatSlices.Bench.Common.Figures;

namespace DataBench;

/// <summary>Scenario 1: GET /v1/chat/history as the heavy user, through the running service.</summary>
internal static class HistoryListing
{
    private const string Floor = "floor: GET /v1/models (same token and connection)";

    private sealed record Case(string Name, string Url, int N);

    /// <summary>One case in one run: percentiles of its sequential requests (ms).</summary>
    private sealed record RunFigures(double P50, double P95, double P99, double Mean);

    public static async Task<int> RunAsync(string baseUrl, string token, int runs, int n, int warmup)
    {
        using var http = ServiceHttp.Client(baseUrl, token);
        Case[] cases =
        [
            new("page 1 (page_size 10, with messages)", "/v1/chat/history?page=1&page_size=10", n),
            new("deep page 90 (page_size 10, with messages)", "/v1/chat/history?page=90&page_size=10", n),
            new("page 1, q=zebracorn (with messages)", "/v1/chat/history?page=1&page_size=10&q=zebracorn", n),
            new("page 1, include_messages=false", "/v1/chat/history?page=1&page_size=10&include_messages=false", n),
            new("extra: page 1, q=quarterly (common word: 1/6 of all 1M messages)", "/v1/chat/history?page=1&page_size=10&q=quarterly", Math.Max(20, n / 4)),
            new(Floor, "/v1/models", n),
        ];
        // One warm-up pass over every case first (JIT, connection pool, PostgreSQL and OS caches).
        foreach (var c in cases) for (var i = 0; i < 3 * warmup; i++) await GetAsync(http, c.Url);
        var perRun = cases.ToDictionary(c => c.Name, _ => new List<RunFigures>());
        var info = new Dictionary<string, string>();
        for (var run = 1; run <= runs; run++)
            foreach (var c in cases)
            {
                perRun[c.Name].Add(await MeasureAsync(http, c, warmup, info, describe: run == 1));
                var last = perRun[c.Name][^1];
                ServiceHttp.Log($"history run {run} {c.Name}: p50 {F(last.P50)} p95 {F(last.P95)} p99 {F(last.P99)} ms");
            }
        Print(cases, perRun, info, runs, n, warmup);
        return 0;
    }

    /// <summary>
    /// <paramref name="warmup"/> unmeasured requests, then the case's N measured ones; with <paramref name="describe"/>, what the
    /// first history response held goes into <paramref name="info"/>.
    /// </summary>
    private static async Task<RunFigures> MeasureAsync(HttpClient http, Case c, int warmup, Dictionary<string, string> info, bool describe)
    {
        for (var i = 0; i < warmup; i++) await GetAsync(http, c.Url);
        var samples = new List<double>(c.N);
        for (var i = 0; i < c.N; i++)
        {
            var sw = Stopwatch.StartNew();
            var body = await GetAsync(http, c.Url);
            samples.Add(sw.Elapsed.TotalMilliseconds);
            if (i == 0 && describe && c.Url.StartsWith("/v1/chat/history", StringComparison.Ordinal))
            {
                var root = JsonDocument.Parse(body).RootElement;
                var sessions = root.GetProperty("sessions");
                var messages = sessions.EnumerateArray().Sum(s => s.TryGetProperty("messages", out var m) ? m.GetArrayLength() : 0);
                info[c.Name] = $"total={root.GetProperty("total").GetInt64()}, sessions on page={sessions.GetArrayLength()}, messages on page={messages}, body={body.Length} B";
            }
        }
        return new RunFigures(Stats.Percentile(samples, 50), Stats.Percentile(samples, 95), Stats.Percentile(samples, 99), samples.Average());
    }

    private static void Print(Case[] cases, Dictionary<string, List<RunFigures>> perRun, Dictionary<string, string> info, int runs, int n, int warmup)
    {
        Console.WriteLine($"### History listing (GET /v1/chat/history as `heavy`; {runs} runs × {n} sequential requests (the extra case: {Math.Max(20, n / 4)}) after a warm-up pass and {warmup} warm-up requests per case per run, one keep-alive connection)");
        Console.WriteLine();
        Console.WriteLine("| request | p50 ms | p95 ms | p99 ms | p95 ÷ floor p95 (per run) | response |");
        Console.WriteLine("|---|---|---|---|---|---|");
        var floor = perRun[Floor];
        List<double> RatioToFloor(string name) => [.. perRun[name].Zip(floor, (c, f) => c.P95 / f.P95)];
        foreach (var c in cases)
        {
            var r = perRun[c.Name];
            Console.WriteLine($"| {c.Name} | {DataResults.Mmm([.. r.Select(x => x.P50)])} | {DataResults.Mmm([.. r.Select(x => x.P95)])} | {DataResults.Mmm([.. r.Select(x => x.P99)])} | {DataResults.Mmm(RatioToFloor(c.Name), "0.0")}× | {info.GetValueOrDefault(c.Name)} |");
        }
        Console.WriteLine();
        Console.WriteLine($"The floor is `GET /v1/models` on the same connection with the same token: authentication, routing and a JSON response, no query.");
        Console.WriteLine();
        DataResults.Write("history", cases.ToDictionary(c => c.Name, c => new
        {
            url = c.Url,
            p50_ms = Json([.. perRun[c.Name].Select(x => x.P50)]),
            p95_ms = Json([.. perRun[c.Name].Select(x => x.P95)]),
            p99_ms = Json([.. perRun[c.Name].Select(x => x.P99)]),
            p95_ratio_to_floor = Json(RatioToFloor(c.Name)),
        }));
    }

    private static async Task<string> GetAsync(HttpClient http, string url)
    {
        using var res = await http.GetAsync(url);
        var body = await res.Content.ReadAsStringAsync();
        if (!res.IsSuccessStatusCode) throw new InvalidOperationException($"GET {url}: {(int)res.StatusCode} {body}");
        return body;
    }
}
