using System.Diagnostics;
using System.Text;
using ChatSlices.Bench.Common;
using ChatSlices.Tests.Support;
using static ChatSlices.Bench.Common.Figures;

namespace ChatSlices.Bench;

/// <summary>One target in one run of the non-streaming throughput phase.</summary>
public sealed record ThroughputStats(int Requests, int Failed, string? FirstError, double PerSecond, double P50Ms, double P99Ms);

/// <summary>CPU per completed turn of one ChatSlices run (ms): the service's process and the PostgreSQL cluster's processes.</summary>
public sealed record TurnCpu(double ServiceMs, double PostgresMs)
{
    public double TotalMs => ServiceMs + PostgresMs;
}

/// <summary>
/// Benchmark: non-streaming throughput. Closed-loop clients on <c>POST /v1/chat/completions</c> (<c>stream: false</c>) per
/// target: requests per second and latency, ChatSlices against the fake and the nginx hop.
/// </summary>
public sealed partial class Bench
{
    private readonly List<Dictionary<Target, ThroughputStats>> _throughput = [];
    private readonly List<TurnCpu> _turnCpu = [];
    /// <summary>Per run with --compare-env: the service's CPU per request (ms) and requests/s, of A and of B.</summary>
    private readonly List<(double CpuA, double CpuB, double RpsA, double RpsB)> _compared = [];
    private List<StatementStat>? _topStatements;
    private int _topStatementsTurns;

    /// <summary>Issue 15's target for the CPU per non-streaming turn, service + PostgreSQL (ms).</summary>
    private const double TurnCpuTargetMs = 0.8;

    /// <summary>
    /// Non-streaming chat completions, closed loop: --throughput-concurrency clients each sending the next request as soon
    /// as the last one is answered, for --throughput-seconds per target; the fake answers each after 20 ms.
    /// </summary>
    private async Task ThroughputAsync()
    {
        _fake.Script = new FakeScript { Chunks = ["A short answer, sent whole."], Delay = Delay, CompletionTokens = 6 };
        // Beside a B, A's runs must be measured as B's are: the cluster's CPU and pg_stat_statements (reset before each run)
        // would burden A alone. (An A/A run measured A ~12 % dearer per request than its twin that way.)
        var cluster = o.CompareEnv.Count > 0 ? null : await ClusterCpu.FindAsync(_benchDb, stop);
        if (cluster is null && o.CompareEnv.Count == 0) Note("the PostgreSQL cluster's processes were not found: no CPU per turn");
        var targets = _targets.Where(t => t != Target.ChatSlices).ToList();
        foreach (var target in targets) await ClosedLoopAsync(target, TimeSpan.FromSeconds(1)); // warm-up
        for (var run = 1; run <= o.Runs; run++)
        {
            if (OverBudget($"throughput run {run}")) break;
            var stats = new Dictionary<Target, ThroughputStats>();
            var cpu = new Dictionary<Target, double?>();
            foreach (var target in RunOrder(targets, run))
            {
                var cpuBefore = ServiceCpu(target);
                if (target == Target.Completions && cluster is not null) stats[target] = await MeasuredLoopAsync(cluster);
                else stats[target] = await ClosedLoopAsync(target, TimeSpan.FromSeconds(o.ThroughputSeconds));
                if (target.IsService()) cpu[target] = AddServiceCpu(ThroughputPhase(target), cpuBefore, ServiceCpu(target), stats[target].Requests + stats[target].Failed);
                await Task.Delay(200, stop);
            }
            DrainFake();
            _throughput.Add(stats);
            if (cpu.GetValueOrDefault(Target.Completions) is { } cpuA && cpu.GetValueOrDefault(Target.CompletionsB) is { } cpuB)
                _compared.Add((cpuA, cpuB, stats[Target.Completions].PerSecond, stats[Target.CompletionsB].PerSecond));
            Log($"throughput run {run}: " + string.Join("; ", stats.Select(kv => $"{kv.Key} {kv.Value.PerSecond:0} req/s, p50 {kv.Value.P50Ms:0.00} ms, p99 {kv.Value.P99Ms:0.00} ms" +
                (kv.Value.Failed > 0 ? $", {kv.Value.Failed} FAILED ({kv.Value.FirstError})" : ""))));
        }
    }

    /// <summary>
    /// The targets in the order run <paramref name="run"/> measures them: rotated, so that none is always first. Beside a
    /// B, A and B instead take turns in being measured just after the other (A then B, then B then A): what one leaves
    /// behind (its background work, the database's) then falls on both alike, which a rotation of three does not do.
    /// </summary>
    private List<Target> RunOrder(List<Target> targets, int run)
    {
        if (o.CompareEnv.Count == 0) return [.. targets.Select((_, j) => targets[(run + j) % targets.Count])];
        Target[] pair = run % 2 == 1 ? [Target.Completions, Target.CompletionsB] : [Target.CompletionsB, Target.Completions];
        return [.. targets.Where(t => !pair.Contains(t)), .. pair];
    }

    /// <summary>
    /// The ChatSlices run with its CPU per completed turn (the service's and the cluster's processes, from /proc) and, when
    /// the cluster loads it, <c>pg_stat_statements</c> of the bench database over the same span.
    /// </summary>
    private async Task<ThroughputStats> MeasuredLoopAsync(ClusterCpu cluster)
    {
        var statements = await StatementStats.ResetAsync(_benchDb, stop);
        var (service, postgres) = (ServiceCpu(), cluster.Ms());
        var stats = await ClosedLoopAsync(Target.Completions, TimeSpan.FromSeconds(o.ThroughputSeconds));
        var (serviceAfter, postgresAfter) = (ServiceCpu(), cluster.Ms());
        if (service is null || serviceAfter is null || stats.Requests == 0) return stats;
        _turnCpu.Add(new TurnCpu((serviceAfter.Value - service.Value) / stats.Requests, (postgresAfter - postgres) / stats.Requests));
        if (statements)
        {
            _topStatements = await StatementStats.TopAsync(_benchDb, 8, stop);
            _topStatementsTurns = stats.Requests + stats.Failed;
        }
        return stats;
    }

    private static string ThroughputPhase(Target target) => target == Target.CompletionsB ? "throughput_b" : "throughput";

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
        TurnCpuSection(s);
    }

    private void TurnCpuSection(StringBuilder s)
    {
        if (_turnCpu.Count == 0) return;
        var total = Stats.Median(_turnCpu.Select(c => c.TotalMs).ToList());
        s.AppendLine($"CPU per completed turn of `{Target.Completions.Label()}` in the same runs (CPU time from /proc over the run ÷ turns completed; the " +
                     "service's process, and the PostgreSQL cluster's postmaster with every process it started):");
        s.AppendLine();
        s.AppendLine("| service | PostgreSQL | service + PostgreSQL |");
        s.AppendLine("|---:|---:|---:|");
        s.AppendLine($"| {Mmm([.. _turnCpu.Select(c => c.ServiceMs)], "0.00")} ms | {Mmm([.. _turnCpu.Select(c => c.PostgresMs)], "0.00")} ms | {Mmm([.. _turnCpu.Select(c => c.TotalMs)], "0.00")} ms |");
        s.AppendLine();
        s.AppendLine($"**Target ≤ {TurnCpuTargetMs} ms per turn, service + PostgreSQL: {(total <= TurnCpuTargetMs ? "met" : $"missed by {total - TurnCpuTargetMs:0.00} ms")}** (median of the runs).");
        s.AppendLine();
        if (_topStatements is not { Count: > 0 } top)
        {
            s.AppendLine("`pg_stat_statements` is not loaded by the cluster: no statement breakdown.");
            s.AppendLine();
            return;
        }
        s.AppendLine($"Where PostgreSQL's time goes (`pg_stat_statements` of the bench database over the last run, {_topStatementsTurns} turns; execution time only, commits' WAL flushes are not in it):");
        s.AppendLine();
        s.AppendLine("| statement | calls per turn | mean ms | ms per turn |");
        s.AppendLine("|---|---:|---:|---:|");
        foreach (var st in top)
            s.AppendLine($"| `{st.Query.Replace("|", "\\|")}` | {(double)st.Calls / _topStatementsTurns:0.00} | {st.MeanMs:0.000} | {st.TotalMs / _topStatementsTurns:0.000} |");
        s.AppendLine();
    }

    private object ThroughputJson() => new
    {
        cpu_per_turn_ms = new
        {
            service = Json([.. _turnCpu.Select(c => c.ServiceMs)]),
            postgres = Json([.. _turnCpu.Select(c => c.PostgresMs)]),
            total = Json([.. _turnCpu.Select(c => c.TotalMs)]),
            target = TurnCpuTargetMs,
        },
        // Per run, in order (--compare-env): the service's CPU time per request (ms) and requests/s, of A and of B.
        compared = _compared.Select(c => new { cpu_ms_a = Round(c.CpuA), cpu_ms_b = Round(c.CpuB), requests_per_s_a = Round(c.RpsA), requests_per_s_b = Round(c.RpsB) }),
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
