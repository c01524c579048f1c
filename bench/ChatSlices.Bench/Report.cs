using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace ChatSlices.Bench;

/// <summary>The Markdown report: results, targets, memory, method, machine and every run's raw numbers.</summary>
public sealed partial class Bench
{
    /// <summary>Bifrost's published added latency per request (µs-level gateway): the bar the issue sets for added TTFT p99 at c=1.</summary>
    private const double BifrostMs = 1.2;
    private const double NginxTtftFactor = 3, NginxGapFactor = 2, RssGoalMb = 300;

    /// <summary>Issue 3's absolute targets: added TTFT p99 at c=1 and at c=256 (ms), added per-token gap p99 (µs).</summary>
    private const double TtftGoalC1Ms = 2, TtftGoalC256Ms = 10, GapGoalUs = 100;

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

    private static string F(double v, string format) => double.IsNaN(v) || double.IsInfinity(v) ? "n/a" : v.ToString(format, CultureInfo.InvariantCulture);
    private static string Ms(double v) => F(v, "0.00") + " ms";
    private static string Us(double v) => F(v, "0") + " µs";
    private static string Signed(double v, string format) => (v >= 0 ? "+" : "") + F(v, format);

    /// <summary>median (min–max) of per-run values.</summary>
    private static string Mmm(IReadOnlyList<double> perRun, string format, bool signed = false)
    {
        if (perRun.Count == 0) return "n/a";
        string V(double v) => signed ? Signed(v, format) : F(v, format);
        return perRun.Count == 1 ? V(perRun[0]) : $"{V(Stats.Median(perRun))} ({V(perRun.Min())}…{V(perRun.Max())})";
    }

    private static string Verdict(bool? met) => met switch { true => "**met**", false => "**missed**", null => "not measured" };

    private static bool? AtMost(IReadOnlyList<double> perRun, double limit) => perRun.Count == 0 ? null : Stats.Median(perRun) <= limit;

    private record Goal(string Name, string Measured, bool? Met);

    private List<Goal> Goals()
    {
        var goals = new List<Goal>();
        foreach (var t in Services)
        {
            var ttft = AddedPerRun(_sequential, t, Target.Direct, x => x.TtftP99Ms);
            goals.Add(new($"{t.Label()}: added TTFT p99 ≤ {TtftGoalC1Ms} ms at c=1 (issue 3)", Mmm(ttft, "0.00", signed: true) + " ms", AtMost(ttft, TtftGoalC1Ms)));
            var at256 = _concurrent.TryGetValue(256, out var runs256) ? AddedPerRun(runs256, t, Target.Direct, x => x.TtftP99Ms) : [];
            goals.Add(new($"{t.Label()}: added TTFT p99 ≤ {TtftGoalC256Ms} ms at c=256 (issue 3; bursts of 256 started at once)",
                at256.Count == 0 ? "not measured" : Mmm(at256, "0.00", signed: true) + " ms", AtMost(at256, TtftGoalC256Ms)));
            foreach (var (name, _, runs) in Phases())
            {
                var gap = AddedPerRun(runs, t, Target.Direct, x => x.GapP99Us);
                goals.Add(new($"{t.Label()}: added per-token gap p99 ≤ {GapGoalUs} µs at {name} (issue 3)", Mmm(gap, "0", signed: true) + " µs", AtMost(gap, GapGoalUs)));
            }
            goals.Add(new($"{t.Label()}: added TTFT p99 at c=1 below Bifrost's published {BifrostMs} ms (while authenticating and storing the turn)",
                Mmm(ttft, "0.00", signed: true) + " ms", ttft.Count == 0 ? null : Stats.Median(ttft) < BifrostMs));
            if (_targets.Contains(Target.Nginx))
            {
                var ratio = AddedRatioPerRun(_sequential, t, x => x.TtftP99Ms);
                goals.Add(new($"{t.Label()}: added TTFT p99 at c=1 within {NginxTtftFactor}× the nginx hop's", Mmm(ratio, "0.0") + "×", WithinNginxFactor(_sequential, t, x => x.TtftP99Ms, NginxTtftFactor)));
                foreach (var (name, _, runs) in Phases())
                {
                    var gap = AddedRatioPerRun(runs, t, x => x.GapP99Us);
                    goals.Add(new($"{t.Label()}: added per-token gap p99 at {name} within {NginxGapFactor}× the nginx hop's",
                        $"{Mmm(gap, "0.0")}× ({Mmm(AddedPerRun(runs, t, Target.Direct, x => x.GapP99Us), "0", signed: true)} µs vs nginx {Mmm(AddedPerRun(runs, Target.Nginx, Target.Direct, x => x.GapP99Us), "0", signed: true)} µs)",
                        WithinNginxFactor(runs, t, x => x.GapP99Us, NginxGapFactor)));
                }
            }
        }
        var tried = _integrity.Concat(_moreStreams).ToList();
        var clean = tried.Where(r => r.Clean).Select(r => r.Streams).DefaultIfEmpty(0).Max();
        // When the largest level tried was clean, the limit was not found: the machine holds at least that many.
        var largestClean = tried.Count > 0 && tried.Where(r => r.Streams == tried.Max(x => x.Streams)).All(r => r.Clean);
        goals.Add(new($"{o.IntegrityStreams} concurrent streams: no lost or reordered chunk, no stall over {MaxGapMs:0} ms ({_integrity.Count} runs)",
            $"{_integrity.Count(r => r.Clean)}/{_integrity.Count} runs clean; most streams held cleanly at once: {(clean == 0 ? "none of the levels tried" : (largestClean ? "≥ " : "") + clean)}", _integrity.Count == 0 ? null : _integrity.All(r => r.Clean)));
        var peaks = _integrity.Select(r => r.PeakKb / 1024.0).ToList();
        goals.Add(new($"service RSS at {o.IntegrityStreams} streams ≤ {RssGoalMb} MB", Mmm(peaks, "0") + " MiB peak", AtMost(peaks, RssGoalMb)));
        return goals;
    }

    private string Report()
    {
        var s = new StringBuilder();
        var hasNginx = _targets.Contains(Target.Nginx);
        var shown = _targets.ToList();

        s.AppendLine("## Streaming relay, concurrent streams, non-streaming throughput");
        s.AppendLine();
        s.AppendLine($"ChatSlices against the fake OpenAI-compatible upstream it relays, with the fake itself (direct) and one nginx `proxy_pass` hop as baselines measured in the same run. " +
                     $"Every figure is the median of {o.Runs} runs with (min…max); `added` = target − direct within each run; ratios are taken within each run too.");
        s.AppendLine();
        s.AppendLine("| goal (issues 3, 8, 9) | measured | result |");
        s.AppendLine("|---|---|---|");
        foreach (var g in Goals()) s.AppendLine($"| {g.Name} | {g.Measured} | {Verdict(g.Met)} |");
        s.AppendLine();

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

        s.AppendLine("### Concurrent streams through ChatSlices (`/v1/chat/stream`)");
        s.AppendLine();
        s.AppendLine("| streams at once | run | intact | lost | reordered | failed | longest gap between chunks | wall time | TTFT p50 / p99 (direct at the same concurrency) | RSS before | peak RSS during |");
        s.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|");
        foreach (var (r, i) in _integrity.Select((r, i) => (r, $"{i + 1}")).Concat(_moreStreams.Select(r => (r, "once"))))
            s.AppendLine($"| {r.Streams} | {i} | {r.Check.Intact}/{r.Check.Streams} | {r.Check.Lost} | {r.Check.Reordered} | {r.Check.Failed} | {Ms(r.Check.LongestGapMs)} | {F(r.Seconds, "0.00")} s | " +
                         $"{Ms(r.Stats.TtftP50Ms)} / {Ms(r.Stats.TtftP99Ms)} ({Ms(r.Direct.TtftP50Ms)} / {Ms(r.Direct.TtftP99Ms)}) | {Mb(r.RssBefore)} | {Mb(r.PeakKb)} |");
        s.AppendLine();
        s.AppendLine($"Levels past {o.IntegrityStreams} ({string.Join(", ", o.MoreStreams)}) run once each and stop at the first that is not clean (a lost, reordered or failed stream, or a gap over {MaxGapMs:0} ms). " +
                     $"Service RSS when ready: {Mb(_rssReady)}. Peak = the larger of VmRSS sampled every 20 ms and VmHWM reset just before the run.");
        var firstProblem = _integrity.Concat(_moreStreams).Select(r => r.Check.FirstProblem).FirstOrDefault(p => p is not null);
        if (firstProblem is not null) s.AppendLine().AppendLine($"First problem seen: {firstProblem}");
        s.AppendLine();

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
        s.AppendLine($"Rows stored by the service in `{Program.BenchDatabase}` (role/status: count): {_stored}.");
        s.AppendLine();

        s.AppendLine("### Method and machine (streaming part)");
        s.AppendLine();
        s.AppendLine($"- Fake upstream: `tests/FakeOpenAi` in the bench process (Kestrel, TCP_NODELAY); it records when it wrote each chunk. Service: the Release publish as its own process, `ASPNETCORE_ENVIRONMENT=Production`, " +
                     $"warnings-only logging, provider `openai` pointed at the fake, model `fake-gpt`, database `{Program.BenchDatabase}` created anew. Requests are guests (no token) from {o.GuestAddresses} loopback source addresses, " +
                     "so every turn creates a session, stores the user turn and the reply, and reserves and settles the guest's daily tokens in PostgreSQL; the guest limits are raised so that none rejects.");
        s.AppendLine($"- nginx: " + (hasNginx ? "Debian nginx, `proxy_pass` with `proxy_buffering off`, HTTP/1.1 keep-alive to the fake, `worker_processes auto`." : $"skipped ({_nginxSkipped})."));
        s.AppendLine($"- Client: one `HttpClient` (keep-alive, no proxy), timestamping each SSE event when the read that delivered it returns. Warm-up: {o.Warmup} sequential and one burst of {o.Concurrencies.Max()} per target, not counted.");
        s.AppendLine($"- c=1: {o.Runs} runs of {o.Sequential} sequential streams per target, targets interleaved stream by stream (p99 of {o.Sequential} samples is their largest). " +
                     $"Bursts: per level, {o.Runs} runs of {o.ConcurrentRounds} bursts started at once per target in turn. Percentiles are nearest-rank.");
        s.AppendLine($"- Machine: `nproc` {Environment.ProcessorCount}; {CpuModel()}; {MemTotal()}; {OsName()}, kernel {Kernel()}; {RuntimeInformation.FrameworkDescription}; PostgreSQL {_pgVersion} (synchronous_commit {_syncCommit}); build: {o.Git}.");
        s.AppendLine($"- Load average when measuring started: {_loadStart}; at the end: {_loadEnd}; wall time of this part: {Elapsed:0} s." +
                     (_cpuUse is { } use ? $" CPU: {use.Ours:0} core-seconds by the processes under test, {use.Others:0} by everything else." : ""));
        foreach (var note in _notes) s.AppendLine($"- Note: {note}");
        s.AppendLine();

        s.AppendLine("<details><summary>Every run of the streaming phases</summary>");
        s.AppendLine();
        s.AppendLine("| phase | run | target | streams | failed | TTFT p50 | TTFT p99 | gap p50 | gap p99 | transit p50 | transit p99 | fake lateness p99 |");
        s.AppendLine("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (name, _, runs) in phases)
            for (var i = 0; i < runs.Count; i++)
                foreach (var (t, x) in runs[i])
                    s.AppendLine($"| {name} | {i + 1} | {t.Label()} | {x.Streams} | {x.Failed} | {Ms(x.TtftP50Ms)} | {Ms(x.TtftP99Ms)} | {Us(x.GapP50Us)} | {Us(x.GapP99Us)} | {Us(x.TransitP50Us)} | {Us(x.TransitP99Us)} | {Us(x.FakeLateP99Us)} |");
        s.AppendLine();
        s.AppendLine("</details>");
        return s.ToString();
    }

    private static object Json(IReadOnlyList<double> perRun) => perRun.Count == 0
        ? new { runs = 0 }
        : new { median = Round(Stats.Median(perRun)), min = Round(perRun.Min()), max = Round(perRun.Max()), runs = perRun.Count };

    private static double? Round(double v) => double.IsNaN(v) || double.IsInfinity(v) ? null : Math.Round(v, 3);

    /// <summary>The same figures for machines: <c>bench/results.json</c>'s <c>streaming</c> part.</summary>
    private string ResultsJson()
    {
        var measures = new (string Key, Func<TargetStats, double> F)[]
            { ("ttft_p50_ms", x => x.TtftP50Ms), ("ttft_p99_ms", x => x.TtftP99Ms), ("gap_p99_us", x => x.GapP99Us) };
        var result = new
        {
            fake = new { chunks = o.Chunks, delay_ms = o.DelayMs },
            runs = o.Runs,
            goals = Goals().Select(g => new { goal = g.Name, measured = g.Measured, met = g.Met }),
            relay = Phases().Select(p => new
            {
                phase = p.Name,
                concurrency = p.Concurrency,
                targets = _targets.ToDictionary(t => t.Key(), t => measures.ToDictionary(m => m.Key, m => Json(PerRun(p.Runs, t, m.F)))),
                added_over_direct = _targets.Where(t => t != Target.Direct).ToDictionary(t => t.Key(), t => measures.ToDictionary(m => m.Key, m => Json(AddedPerRun(p.Runs, t, Target.Direct, m.F)))),
                ratio_to_direct = Services.ToDictionary(t => t.Key(), t => measures.ToDictionary(m => m.Key, m => Json(RatioPerRun(p.Runs, t, m.F)))),
                added_ratio_to_nginx = _targets.Contains(Target.Nginx)
                    ? Services.ToDictionary(t => t.Key(), t => measures.ToDictionary(m => m.Key, m => Json(AddedRatioPerRun(p.Runs, t, m.F))))
                    : null,
            }),
            concurrent_streams = _integrity.Concat(_moreStreams).Select(r => new
            {
                streams = r.Streams, intact = r.Check.Intact, lost = r.Check.Lost, reordered = r.Check.Reordered, failed = r.Check.Failed,
                longest_gap_ms = Round(r.Check.LongestGapMs), clean = r.Clean, peak_rss_mib = Round(r.PeakKb / 1024.0),
                ttft_p99_ms = Round(r.Stats.TtftP99Ms), direct_ttft_p99_ms = Round(r.Direct.TtftP99Ms),
            }),
            throughput = new
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
            },
            service_cpu_ms_per_reply = _serviceCpuPerStream.ToDictionary(kv => kv.Key, kv => Json(kv.Value)),
            rss_ready_mib = _rssReady is { } kb ? Round(kb / 1024.0) : null,
            wall_seconds = Math.Round(Elapsed),
            notes = _notes,
        };
        return JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true });
    }

    private static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? "?" : line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private static string MemTotal()
    {
        try
        {
            var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            var kb = line is null ? 0 : long.Parse(new string(line.Where(char.IsDigit).ToArray()), CultureInfo.InvariantCulture);
            return $"{kb / 1024.0 / 1024.0:0.0} GiB";
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private static string OsName()
    {
        try
        {
            var line = File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal));
            return line is null ? RuntimeInformation.OSDescription : line["PRETTY_NAME=".Length..].Trim('"');
        }
        catch (IOException)
        {
            return RuntimeInformation.OSDescription;
        }
    }

    private static string Kernel()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        }
        catch (IOException)
        {
            return "?";
        }
    }
}
