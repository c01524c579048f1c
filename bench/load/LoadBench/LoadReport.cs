using System.Text;
using ChatSlices.Bench.Common;
using static ChatSlices.Bench.Common.Figures;

namespace ChatSlices.LoadBench;

/// <summary>The part's Markdown (for BENCHMARKS.md) and JSON (for bench/results.json).</summary>
public sealed class LoadReport(LoadOptions o, IReadOnlyList<Turn> turns, IReadOnlyList<Invariant> invariants, double wallSeconds, double settleSeconds,
    double? serviceCpuMs, long? rssBeforeKb, long peakRssKb, int replyChars, IReadOnlyList<double> abortNoticedMs)
{
    private List<double> Latencies => [.. turns.Where(t => t.Completed && !t.Aborted).Select(t => t.LatencyMs)];
    private List<double> FirstText => [.. turns.Where(t => t.FirstTextMs is not null).Select(t => t.FirstTextMs!.Value)];
    private int Violations => invariants.Sum(i => i.Violations);

    public string Markdown()
    {
        var s = new StringBuilder();
        s.AppendLine("## No data lost under load (issue 10)");
        s.AppendLine();
        s.AppendLine($"{o.Clients} clients at once, each its own user (HS256 token, tier `pro`, default limits) with one session, × {o.Turns} turns one after the other: " +
                     $"{turns.Count} turns. Each turn's way in is drawn from a seeded RNG (seed {o.Seed}): " +
                     string.Join(", ", Enum.GetValues<TurnKind>().Select(k => $"{k.Label()} {turns.Count(t => t.Kind == k)}")) + ". " +
                     $"{o.AbortPercent}% of the streamed turns are abandoned by the client after 1 to {Math.Max(1, o.Chunks / 4)} text chunks (the connection is cut); " +
                     $"{o.RetryPercent}% of the non-streaming messages are sent again with the same `Idempotency-Key`. The fake upstream (in the load process) streams " +
                     $"{o.Chunks} chunks ({replyChars} characters), {o.DelayMs} ms apart, and reports usage. Afterwards the service's database (`{LoadRun.Database}`, created anew), " +
                     "`GET /v1/tokens/usage` of every user and what each client saw are compared.");
        s.AppendLine();
        s.AppendLine("| invariant | checked | violations |");
        s.AppendLine("|---|---:|---:|");
        foreach (var i in invariants) s.AppendLine($"| {i.Name} | {i.Checked} | {(i.Violations == 0 ? "0" : $"**{i.Violations}**")} |");
        s.AppendLine();
        var latencies = Latencies;
        var first = FirstText;
        s.AppendLine("| figure | value |");
        s.AppendLine("|---|---:|");
        s.AppendLine($"| turns (completed / aborted by the client / failed) | {turns.Count} ({turns.Count(t => t.Completed && !t.Aborted)} / {turns.Count(t => t.Aborted)} / {turns.Count(t => t.Error is not null)}) |");
        s.AppendLine($"| idempotent retries | {turns.Count(t => t.RetryMatched is not null)} |");
        s.AppendLine($"| wall time of the load | {F(wallSeconds, "0.0")} s |");
        s.AppendLine($"| throughput | {F(turns.Count / wallSeconds, "0")} turns/s |");
        s.AppendLine($"| turn latency p50 / p99 (request sent → reply complete; aborted turns left out) | {F(Stats.Percentile(latencies, 50), "0")} ms / {F(Stats.Percentile(latencies, 99), "0")} ms |");
        s.AppendLine($"| first text chunk p50 / p99 (streamed turns) | {F(Stats.Percentile(first, 50), "0.0")} ms / {F(Stats.Percentile(first, 99), "0.0")} ms |");
        s.AppendLine($"| the fake's own time per reply (its floor) | {o.Chunks * o.DelayMs} ms |");
        s.AppendLine($"| client gone → the model call cancelled, p50 / p99 ({abortNoticedMs.Count} of {turns.Count(t => t.Aborted)} aborts cancelled it) | " +
                     $"{F(Stats.Percentile(abortNoticedMs, 50), "0.0")} ms / {F(Stats.Percentile(abortNoticedMs, 99), "0.0")} ms |");
        s.AppendLine($"| service CPU per turn | {(serviceCpuMs is { } cpu ? F(cpu / turns.Count, "0.0") + " ms" : "n/a")} |");
        s.AppendLine($"| service RSS before / peak during | {Mib(rssBeforeKb, "0")} / {Mib(peakRssKb, "0")} |");
        s.AppendLine($"| wait for the last replies and quota settlements to land | {F(settleSeconds, "0.0")} s |");
        s.AppendLine();
        if (Violations > 0)
        {
            s.AppendLine("First violations:");
            s.AppendLine();
            foreach (var i in invariants.Where(i => i.Violations > 0))
                foreach (var example in i.Examples) s.AppendLine($"- {i.Name}: {example}");
            s.AppendLine();
        }
        s.AppendLine($"Build: {o.Git}; {Environment.ProcessorCount} CPUs shared by the clients, the fake, the service and PostgreSQL. " +
                     $"{(Violations == 0 ? "Every invariant held." : $"**{Violations} violations**: the part fails.")}");
        return s.ToString();
    }

    public string Json() => Serialize(new
    {
        clients = o.Clients,
        turns_per_client = o.Turns,
        seed = o.Seed,
        turns = turns.Count,
        by_kind = Enum.GetValues<TurnKind>().ToDictionary(k => k.ToString(), k => turns.Count(t => t.Kind == k)),
        completed = turns.Count(t => t.Completed && !t.Aborted),
        aborted = turns.Count(t => t.Aborted),
        failed = turns.Count(t => t.Error is not null),
        retries = turns.Count(t => t.RetryMatched is not null),
        wall_seconds = Math.Round(wallSeconds, 2),
        turns_per_s = Math.Round(turns.Count / wallSeconds, 1),
        latency_p50_ms = Round(Stats.Percentile(Latencies, 50), 2),
        latency_p99_ms = Round(Stats.Percentile(Latencies, 99), 2),
        first_text_p50_ms = Round(Stats.Percentile(FirstText, 50), 2),
        first_text_p99_ms = Round(Stats.Percentile(FirstText, 99), 2),
        aborts_that_cancelled_the_model_call = abortNoticedMs.Count,
        abort_noticed_p50_ms = Round(Stats.Percentile(abortNoticedMs, 50), 2),
        abort_noticed_p99_ms = Round(Stats.Percentile(abortNoticedMs, 99), 2),
        service_cpu_ms_per_turn = serviceCpuMs is { } cpu ? Round(cpu / turns.Count, 2) : null,
        peak_rss_mib = Round(peakRssKb / 1024.0, 2),
        settle_seconds = Math.Round(settleSeconds, 1),
        invariants = invariants.Select(i => new { invariant = i.Name, @checked = i.Checked, violations = i.Violations, examples = i.Examples }),
        violations = Violations,
        passed = Violations == 0,
    });
}
