using System.Diagnostics;
using System.Text;
using ChatSlices.Bench.Common;
using ChatSlices.Tests.Support;
using static ChatSlices.Bench.Common.Figures;

namespace ChatSlices.Bench;

/// <summary>One target in one run of the non-streaming throughput phase.</summary>
public sealed record ThroughputStats(int Requests, int Failed, string? FirstError, double PerSecond, double P50Ms, double P99Ms);

/// <summary>
/// Benchmark: non-streaming throughput. Closed-loop clients on <c>POST /v1/chat/completions</c> (<c>stream: false</c>) per
/// target: requests per second and latency, ChatSlices against the fake and the nginx hop.
/// </summary>
public sealed partial class Bench
{
    private readonly List<Dictionary<Target, ThroughputStats>> _throughput = [];

    /// <summary>
    /// Non-streaming chat completions, closed loop: --throughput-concurrency clients each sending the next request as soon
    /// as the last one is answered, for --throughput-seconds per target; the fake answers each after 20 ms.
    /// </summary>
    private async Task ThroughputAsync()
    {
        _fake.Script = new FakeScript { Chunks = ["A short answer, sent whole."], Delay = Delay, CompletionTokens = 6 };
        var targets = _targets.Where(t => t != Target.ChatSlices).ToList();
        foreach (var target in targets) await ClosedLoopAsync(target, TimeSpan.FromSeconds(1)); // warm-up
        for (var run = 1; run <= o.Runs; run++)
        {
            if (OverBudget($"throughput run {run}")) break;
            var stats = new Dictionary<Target, ThroughputStats>();
            for (var j = 0; j < targets.Count; j++)
            {
                var target = targets[(run + j) % targets.Count];
                var cpuBefore = ServiceCpu();
                stats[target] = await ClosedLoopAsync(target, TimeSpan.FromSeconds(o.ThroughputSeconds));
                if (target.IsService()) AddServiceCpu("throughput", cpuBefore, ServiceCpu(), stats[target].Requests + stats[target].Failed);
                await Task.Delay(200, stop);
            }
            DrainFake();
            _throughput.Add(stats);
            Log($"throughput run {run}: " + string.Join("; ", stats.Select(kv => $"{kv.Key} {kv.Value.PerSecond:0} req/s, p50 {kv.Value.P50Ms:0.00} ms, p99 {kv.Value.P99Ms:0.00} ms" +
                (kv.Value.Failed > 0 ? $", {kv.Value.Failed} FAILED ({kv.Value.FirstError})" : ""))));
        }
    }

    private async Task<ThroughputStats> ClosedLoopAsync(Target target, TimeSpan length)
    {
        var latencies = new List<double>();
        var failed = 0;
        string? firstError = null;
        var started = Stopwatch.GetTimestamp();
        var end = started + (long)(length.TotalSeconds * Stopwatch.Frequency);
        async Task ClientAsync()
        {
            while (Stopwatch.GetTimestamp() < end)
            {
                var (ms, error) = await _client.CompleteAsync(_urls[target], NextMarker(), stop);
                lock (latencies)
                {
                    if (error is null) latencies.Add(ms);
                    else if (failed++ == 0) firstError = error;
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, o.ThroughputConcurrency).Select(_ => ClientAsync()));
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        return new ThroughputStats(latencies.Count, failed, firstError, latencies.Count / seconds,
            Stats.Percentile(latencies, 50), Stats.Percentile(latencies, 99));
    }

    private void ThroughputSection(StringBuilder s)
    {
        s.AppendLine("### Non-streaming throughput (`POST /v1/chat/completions`, `stream: false`)");
        s.AppendLine();
        s.AppendLine($"{o.ThroughputConcurrency} clients in a closed loop for {o.ThroughputSeconds} s per target and run; the fake answers each request after {o.DelayMs} ms, so the floor is {o.ThroughputConcurrency * 1000.0 / o.DelayMs:0} requests/s.");
        s.AppendLine();
        s.AppendLine("| target | requests/s | ÷ direct | p50 | p99 | failed |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var t in _throughput.SelectMany(r => r.Keys).Distinct().Order())
        {
            var runs = _throughput.Where(r => r.ContainsKey(t) && r.ContainsKey(Target.Direct)).ToList();
            s.AppendLine($"| {t.Label()} | {Mmm([.. runs.Select(r => r[t].PerSecond)], "0")} | {Mmm([.. runs.Select(r => r[t].PerSecond / r[Target.Direct].PerSecond)], "0.00")}× | " +
                         $"{Mmm([.. runs.Select(r => r[t].P50Ms)], "0.00")} ms | {Mmm([.. runs.Select(r => r[t].P99Ms)], "0.00")} ms | {runs.Sum(r => r[t].Failed)} |");
        }
        s.AppendLine();
    }

    private object ThroughputJson() => new
    {
        clients = o.ThroughputConcurrency,
        seconds = o.ThroughputSeconds,
        targets = _throughput.SelectMany(r => r.Keys).Distinct().ToDictionary(t => t.Key(), t => new
        {
            requests_per_s = Json([.. _throughput.Where(r => r.ContainsKey(t)).Select(r => r[t].PerSecond)]),
            ratio_to_direct = Json([.. _throughput.Where(r => r.ContainsKey(t) && r.ContainsKey(Target.Direct)).Select(r => r[t].PerSecond / r[Target.Direct].PerSecond)]),
            p50_ms = Json([.. _throughput.Where(r => r.ContainsKey(t)).Select(r => r[t].P50Ms)]),
            p99_ms = Json([.. _throughput.Where(r => r.ContainsKey(t)).Select(r => r[t].P99Ms)]),
            failed = _throughput.Where(r => r.ContainsKey(t)).Sum(r => r[t].Failed),
        }),
    };
}
