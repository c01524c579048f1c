using System.Text;
using ChatSlices.Bench.Common;
using static ChatSlices.Bench.Common.Figures;

namespace ChatSlices.Bench;

/// <summary>
/// Benchmark: the streaming relay. TTFT and per-token gap of every target at c=1 (one stream at a time) and in bursts of N
/// streams started at once, the baselines (direct, nginx) measured in the same runs.
/// </summary>
public sealed partial class Bench
{
    private readonly List<Dictionary<Target, TargetStats>> _sequential = [];
    private readonly Dictionary<int, List<Dictionary<Target, TargetStats>>> _concurrent = [];

    /// <summary>Concurrency 1: one stream at a time, the targets interleaved so that drift hits them alike.</summary>
    private async Task SequentialAsync()
    {
        for (var run = 1; run <= o.Runs; run++)
        {
            if (OverBudget($"sequential run {run}")) break;
            var results = _targets.ToDictionary(t => t, _ => new List<StreamResult>());
            var cpuBefore = ServiceCpu();
            for (var i = 0; i < o.Sequential; i++)
                for (var j = 0; j < _targets.Count; j++)
                {
                    var target = _targets[(i + j) % _targets.Count];
                    results[target].Add(await OneAsync(target));
                }
            AddServiceCpu("c=1", cpuBefore, ServiceCpu(), results[Target.ChatSlices].Count + results[Target.Completions].Count);
            var fake = DrainFake();
            var stats = _targets.ToDictionary(t => t, t => TargetStats.From(results[t], fake, Delay));
            _sequential.Add(stats);
            Log($"c=1 run {run}: " + Summary(stats));
        }
    }

    /// <summary>Concurrency N, for each level: bursts of N streams started at once, per target in turn.</summary>
    private async Task ConcurrentAsync()
    {
        foreach (var n in o.Concurrencies)
        {
            var levelRuns = _concurrent[n] = [];
            for (var run = 1; run <= o.Runs; run++)
            {
                if (OverBudget($"c={n} run {run}")) break;
                var results = _targets.ToDictionary(t => t, _ => new List<StreamResult>());
                for (var round = 0; round < o.ConcurrentRounds; round++)
                    for (var j = 0; j < _targets.Count; j++)
                    {
                        var target = _targets[(round + run + j) % _targets.Count];
                        var cpuBefore = target.IsService() ? ServiceCpu() : null;
                        results[target].AddRange(await BurstAsync(target, n));
                        if (target.IsService()) AddServiceCpu($"c={n} burst", cpuBefore, ServiceCpu(), n);
                        await Task.Delay(200, stop);
                    }
                var fake = DrainFake();
                var stats = _targets.ToDictionary(t => t, t => TargetStats.From(results[t], fake, Delay));
                levelRuns.Add(stats);
                Log($"c={n} run {run}: " + Summary(stats));
            }
        }
    }

    private static string Summary(Dictionary<Target, TargetStats> stats) => string.Join("; ", stats.Select(kv =>
        $"{kv.Key} TTFT p50 {kv.Value.TtftP50Ms:0.000} p99 {kv.Value.TtftP99Ms:0.000} ms (to upstream p50 {kv.Value.ToUpstreamP50Ms:0.000}, first chunk p50 {kv.Value.FirstChunkP50Ms:0.000}), gap+ p99 {kv.Value.GapP99Us:0} µs" +
        (kv.Value.Failed > 0 ? $", {kv.Value.Failed} FAILED ({kv.Value.FirstError})" : "")));

    private void RelaySection(StringBuilder s)
    {
        var hasNginx = _targets.Contains(Target.Nginx);
        var shown = _targets.ToList();
        s.AppendLine("### Streaming relay: TTFT and per-token gap");
        s.AppendLine();
        s.AppendLine("TTFT: request sent → first content chunk at the client (ChatSlices `/v1/chat/stream`: the first `text` event). Per-token gap: each chunk's inter-arrival gap at the client minus the gap between the fake's writes of the same two chunks. " +
                     $"The fake sends {o.Chunks} chunks, {o.DelayMs} ms apart (the first after {o.DelayMs} ms too).");
        s.AppendLine();
        s.AppendLine("| measurement | phase | " + string.Join(" | ", shown.Select(t => t.Label())) + " | " +
                     string.Join(" | ", shown.Where(t => t != Target.Direct).Select(t => $"added: {t.Label()}")) + " | " +
                     string.Join(" | ", Services.Select(t => $"{t.Label()} ÷ direct")) + (hasNginx ? " | " + string.Join(" | ", Services.Select(t => $"{t.Label()} added ÷ nginx added")) : "") + " |");
        s.AppendLine("|---|---|" + string.Concat(Enumerable.Repeat("---:|", shown.Count * 2 - 1 + Services.Length * (hasNginx ? 2 : 1))));
        foreach (var (label, f, unit) in new (string, Func<TargetStats, double>, string)[]
                 { ("TTFT p50", x => x.TtftP50Ms, "ms"), ("TTFT p99", x => x.TtftP99Ms, "ms"), ("per-token gap p99", x => x.GapP99Us, "µs") })
            foreach (var (name, _, runs) in Phases())
            {
                var format = unit == "ms" ? "0.00" : "0";
                var line = $"| {label} ({unit}) | {name} | " + string.Join(" | ", shown.Select(t => F(Stats.Median(PerRun(runs, t, f)), format))) + " | " +
                           string.Join(" | ", shown.Where(t => t != Target.Direct).Select(t => Mmm(AddedPerRun(runs, t, Target.Direct, f), format, signed: true))) + " | " +
                           string.Join(" | ", Services.Select(t => Mmm(RatioPerRun(runs, t, f), "0.00") + "×"));
                if (hasNginx) line += " | " + string.Join(" | ", Services.Select(t => Mmm(AddedRatioPerRun(runs, t, f), "0.0") + "×"));
                s.AppendLine(line + " |");
            }
        s.AppendLine();
        TtftPartsTable(s);
        var phases = Phases().ToList();
        var all = phases.SelectMany(p => p.Runs).SelectMany(r => r.Values).ToList();
        s.AppendLine($"Failed streams in these phases: {all.Sum(x => x.Failed)} of {all.Sum(x => x.Streams)}" +
                     (all.FirstOrDefault(x => x.FirstError is not null)?.FirstError is { } err ? $" (first: {err})" : "") + ". " +
                     "The fake's own timer lateness p99 (its write gap − " + o.DelayMs + " ms): " +
                     string.Join(", ", phases.Select(p => $"{Us(Stats.Median(PerRun(p.Runs, Target.Direct, x => x.FakeLateP99Us)))} at {p.Name}")) + ".");
        if (_serviceCpuPerStream.Count > 0)
            s.AppendLine().AppendLine($"ChatSlices' own CPU time (user + system, from /proc) per reply of {o.Chunks} chunks, median of runs: " +
                                      string.Join("; ", _serviceCpuPerStream.Select(kv => $"{kv.Key}: {F(Stats.Median(kv.Value), "0.0")} ms")) + ".");
        if (!hasNginx) s.AppendLine().AppendLine($"nginx hop: skipped ({_nginxSkipped}).");
        s.AppendLine();
    }

    /// <summary>Where ChatSlices' time to first token goes: its parts, per phase.</summary>
    private void TtftPartsTable(StringBuilder s)
    {
        s.AppendLine("Where ChatSlices' (`/v1/chat/stream`) time to first token goes, median of runs (the client's and the fake's clocks are the same process):");
        s.AppendLine();
        var phases = Phases().ToList();
        s.AppendLine("| part of the TTFT | " + string.Join(" | ", phases.Select(p => $"p50, {p.Name} | p99, {p.Name}")) + " |");
        s.AppendLine("|---|" + string.Concat(phases.Select(_ => "---:|---:|")));
        void Part(string name, Target t, Func<TargetStats, double> p50, Func<TargetStats, double> p99) =>
            s.AppendLine($"| {name} | " + string.Join(" | ", phases.Select(p => $"{Ms(Stats.Median(PerRun(p.Runs, t, p50)))} | {Ms(Stats.Median(PerRun(p.Runs, t, p99)))}")) + " |");
        Part("request sent → `session` event at the client", Target.ChatSlices, x => x.FirstEventP50Ms, x => x.FirstEventP99Ms);
        Part("`session` event at the client → the fake has the upstream request", Target.ChatSlices, x => x.FirstEventToUpstreamP50Ms, x => x.FirstEventToUpstreamP99Ms);
        Part("the fake's first chunk written → `text` event at the client", Target.ChatSlices, x => x.FirstChunkP50Ms, x => x.FirstChunkP99Ms);
        Part("direct: request sent → the fake has it", Target.Direct, x => x.ToUpstreamP50Ms, x => x.ToUpstreamP99Ms);
        Part("direct: first chunk written → client has it", Target.Direct, x => x.FirstChunkP50Ms, x => x.FirstChunkP99Ms);
        s.AppendLine();
    }

    private void RelayRunsDetails(StringBuilder s)
    {
        s.AppendLine("<details><summary>Every run of the streaming phases</summary>");
        s.AppendLine();
        s.AppendLine("| phase | run | target | streams | failed | TTFT p50 | TTFT p99 | gap p50 | gap p99 | transit p50 | transit p99 | fake lateness p99 |");
        s.AppendLine("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (name, _, runs) in Phases())
            for (var i = 0; i < runs.Count; i++)
                foreach (var (t, x) in runs[i])
                    s.AppendLine($"| {name} | {i + 1} | {t.Label()} | {x.Streams} | {x.Failed} | {Ms(x.TtftP50Ms)} | {Ms(x.TtftP99Ms)} | {Us(x.GapP50Us)} | {Us(x.GapP99Us)} | {Us(x.TransitP50Us)} | {Us(x.TransitP99Us)} | {Us(x.FakeLateP99Us)} |");
        s.AppendLine();
        s.AppendLine("</details>");
    }

    private IEnumerable<object> RelayJson()
    {
        var measures = new (string Key, Func<TargetStats, double> F)[]
            { ("ttft_p50_ms", x => x.TtftP50Ms), ("ttft_p99_ms", x => x.TtftP99Ms), ("gap_p99_us", x => x.GapP99Us) };
        return Phases().Select(p => new
        {
            phase = p.Name,
            concurrency = p.Concurrency,
            targets = _targets.ToDictionary(t => t.Key(), t => measures.ToDictionary(m => m.Key, m => Json(PerRun(p.Runs, t, m.F)))),
            added_over_direct = _targets.Where(t => t != Target.Direct).ToDictionary(t => t.Key(), t => measures.ToDictionary(m => m.Key, m => Json(AddedPerRun(p.Runs, t, Target.Direct, m.F)))),
            ratio_to_direct = Services.ToDictionary(t => t.Key(), t => measures.ToDictionary(m => m.Key, m => Json(RatioPerRun(p.Runs, t, m.F)))),
            added_ratio_to_nginx = _targets.Contains(Target.Nginx)
                ? Services.ToDictionary(t => t.Key(), t => measures.ToDictionary(m => m.Key, m => Json(AddedRatioPerRun(p.Runs, t, m.F))))
                : null,
        });
    }
}
