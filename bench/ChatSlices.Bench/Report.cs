using System.Runtime.InteropServices;
using System.Text;
using ChatSlices.Bench.Common;
using static ChatSlices.Bench.Common.Figures;

namespace ChatSlices.Bench;

/// <summary>
/// The Markdown report and its JSON twin: the goals (Goals.cs), each benchmark's section (Benchmarks/), method and machine,
/// and every run's raw numbers; the helpers that turn runs into per-run figures.
/// </summary>
public sealed partial class Bench
{
    private static readonly Target[] Services = [Target.ChatSlices, Target.Completions];

    private IEnumerable<(string Name, int Concurrency, List<Dictionary<Target, TargetStats>> Runs)> Phases() =>
        new[] { ("c=1", 1, _sequential) }.Concat(o.Concurrencies.Where(_concurrent.ContainsKey).Select(n => ($"c={n} burst", n, _concurrent[n])))
            .Where(p => p.Item3.Count > 0);

    /// <summary>Per run, f(target) − f(baseline), both from the same run.</summary>
    private static List<double> AddedPerRun(List<Dictionary<Target, TargetStats>> runs, Target t, Target baseline, Func<TargetStats, double> f) =>
        [.. runs.Where(r => r.ContainsKey(t) && r.ContainsKey(baseline)).Select(r => f(r[t]) - f(r[baseline]))];

    private static List<double> PerRun(List<Dictionary<Target, TargetStats>> runs, Target t, Func<TargetStats, double> f) =>
        [.. runs.Where(r => r.ContainsKey(t)).Select(r => f(r[t]))];

    /// <summary>Per run, (t − direct) ÷ (nginx − direct): what the service adds as a multiple of what one nginx hop adds.</summary>
    private static List<double> AddedRatioPerRun(List<Dictionary<Target, TargetStats>> runs, Target t, Func<TargetStats, double> f) =>
        [.. runs.Where(r => r.ContainsKey(Target.Nginx)).Select(r => (f(r[t]) - f(r[Target.Direct])) / (f(r[Target.Nginx]) - f(r[Target.Direct])))];

    /// <summary>
    /// Whether, in most runs, what the service adds is at most <paramref name="factor"/> × what one nginx hop adds (a hop
    /// that adds nothing or less leaves the service no allowance): a ratio alone means nothing when nginx's share is ≤ 0.
    /// </summary>
    private static bool? WithinNginxFactor(List<Dictionary<Target, TargetStats>> runs, Target t, Func<TargetStats, double> f, double factor)
    {
        var within = runs.Where(r => r.ContainsKey(t) && r.ContainsKey(Target.Nginx))
            .Select(r => f(r[t]) - f(r[Target.Direct]) <= factor * Math.Max(0, f(r[Target.Nginx]) - f(r[Target.Direct]))).ToList();
        return within.Count == 0 ? null : within.Count(w => w) * 2 > within.Count;
    }

    private static List<double> RatioPerRun(List<Dictionary<Target, TargetStats>> runs, Target t, Func<TargetStats, double> f) =>
        [.. runs.Select(r => f(r[t]) / f(r[Target.Direct]))];

    private static string Ms(double v) => F(v, "0.00") + " ms";
    private static string Us(double v) => F(v, "0") + " µs";

    private string Report()
    {
        var s = new StringBuilder();
        s.AppendLine("## Streaming relay, concurrent streams, non-streaming throughput");
        s.AppendLine();
        s.AppendLine($"ChatSlices against the fake OpenAI-compatible upstream it relays, with the fake itself (direct) and one nginx `proxy_pass` hop as baselines measured in the same run. " +
                     $"Every figure is the median of {o.Runs} runs with (min…max); `added` = target − direct within each run; ratios are taken within each run too.");
        s.AppendLine();
        s.AppendLine("| goal (issues 3, 8, 9) | measured | result |");
        s.AppendLine("|---|---|---|");
        foreach (var g in Goals()) s.AppendLine($"| {g.Name} | {g.Measured} | {Verdict(g.Met)} |");
        s.AppendLine();

        if (o.Parts.Count < Options.AllParts.Length) s.AppendLine($"Parts run: {string.Join(", ", Options.AllParts.Where(o.Parts.Contains))} (--parts).").AppendLine();
        if (o.Parts.Contains("relay")) RelaySection(s);
        if (o.Parts.Contains("streams")) ConcurrentStreamsSection(s);
        if (o.Parts.Contains("throughput")) ThroughputSection(s);
        s.AppendLine($"Rows stored by the service in `{Database}` (role/status: count): {_stored}.");
        s.AppendLine();

        MethodSection(s);
        if (o.Parts.Contains("relay")) RelayRunsDetails(s);
        return s.ToString();
    }

    private void MethodSection(StringBuilder s)
    {
        var hasNginx = _targets.Contains(Target.Nginx);
        s.AppendLine("### Method and machine (streaming part)");
        s.AppendLine();
        s.AppendLine($"- Fake upstream: `tests/FakeOpenAi` in the bench process (Kestrel, TCP_NODELAY); it records when it wrote each chunk. Service: the Release publish as its own process, `ASPNETCORE_ENVIRONMENT=Production`, " +
                     $"warnings-only logging, provider `openai` pointed at the fake, model `fake-gpt`, database `{Database}` created anew. Requests are guests (no token) from {o.GuestAddresses} loopback source addresses, " +
                     "so every turn creates a session, stores the user turn and the reply, and reserves and settles the guest's daily tokens in PostgreSQL; the guest limits are raised so that none rejects.");
        s.AppendLine($"- nginx: " + (hasNginx ? "Debian nginx, `proxy_pass` with `proxy_buffering off`, HTTP/1.1 keep-alive to the fake, `worker_processes auto`." : $"skipped ({_nginxSkipped})."));
        s.AppendLine($"- Client: one `HttpClient` (keep-alive, no proxy), timestamping each SSE event when the read that delivered it returns. Warm-up: {o.Warmup} sequential and one burst of {o.Concurrencies.Max()} per target, not counted.");
        s.AppendLine($"- c=1: {o.Runs} runs of {o.Sequential} sequential streams per target, targets interleaved stream by stream (p99 of {o.Sequential} samples is their largest). " +
                     $"Bursts: per level, {o.Runs} runs of {o.ConcurrentRounds} bursts started at once per target in turn. Percentiles are nearest-rank.");
        if (o.ServiceEnv.Count > 0) s.AppendLine($"- Service environment added (--service-env): {string.Join(", ", o.ServiceEnv.Select(kv => $"`{kv.Key}={kv.Value}`"))}.");
        if (o.CompareEnv.Count > 0) s.AppendLine($"- A second service (B) beside the first, with (--compare-env): {string.Join(", ", o.CompareEnv.Select(kv => $"`{kv.Key}={kv.Value}`"))}.");
        s.AppendLine($"- Machine: `nproc` {Environment.ProcessorCount}; {Machine.CpuModel()}; {Machine.MemTotal()}; {Machine.OsName()}, kernel {Machine.Kernel()}; {RuntimeInformation.FrameworkDescription}; PostgreSQL {_pgVersion} (synchronous_commit {_syncCommit}); build: {o.Git}.");
        s.AppendLine($"- Load average when measuring started: {_loadStart}; at the end: {_loadEnd}; wall time of this part: {Elapsed:0} s." +
                     (_cpuUse is { } use ? $" CPU: {use.Ours:0} core-seconds by the processes under test, {use.Others:0} by everything else." : ""));
        foreach (var note in _notes) s.AppendLine($"- Note: {note}");
        s.AppendLine();
    }

    /// <summary>The same figures for machines: <c>bench/results.json</c>'s <c>streaming</c> part.</summary>
    private string ResultsJson() => Serialize(new
    {
        fake = new { chunks = o.Chunks, delay_ms = o.DelayMs },
        runs = o.Runs,
        goals = Goals().Select(g => new { goal = g.Name, measured = g.Measured, met = g.Met }),
        relay = RelayJson(),
        concurrent_streams = ConcurrentStreamsJson(),
        throughput = ThroughputJson(),
        service_cpu_ms_per_reply = _serviceCpuPerStream.ToDictionary(kv => kv.Key, kv => Json(kv.Value)),
        rss_ready_mib = _rssReady is { } kb ? Round(kb / 1024.0) : null,
        wall_seconds = Math.Round(Elapsed),
        notes = _notes,
    });
}
