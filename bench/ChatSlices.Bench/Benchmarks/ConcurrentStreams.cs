using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using ChatSlices.Bench.Common;
using static ChatSlices.Bench.Common.Figures;

namespace ChatSlices.Bench;

/// <summary>
/// Benchmark: concurrent streams through ChatSlices (<c>/v1/chat/stream</c>). N streams at once, every chunk checked (there
/// once, in order, no stall), the service's RSS before and at its peak; then more streams per level until one is not clean.
/// </summary>
public sealed partial class Bench
{
    private readonly List<IntegrityRun> _integrity = [];
    private readonly List<IntegrityRun> _moreStreams = [];
    private long? _rssBeforeIntegrity;

    private sealed record IntegrityRun(int Streams, Integrity Check, TargetStats Stats, Integrity DirectCheck, TargetStats Direct,
        long? RssBefore, long SampledPeak, long? Hwm, long? RssAfter, double Seconds)
    {
        public long PeakKb => Math.Max(SampledPeak, Hwm ?? 0);

        /// <summary>Every chunk there once and in order, and no gap between two chunks over 200 ms (a stall).</summary>
        public bool Clean => Check.Intact == Check.Streams && Check.LongestGapMs <= MaxGapMs;
    }

    private const double MaxGapMs = 200;

    /// <summary>N streams at once through ChatSlices: every chunk there, once, in order; the service's RSS before and during.</summary>
    private async Task IntegrityAsync()
    {
        _rssBeforeIntegrity = Memory.ReadKb(_service.Pid, "VmRSS");
        for (var run = 1; run <= o.Runs; run++)
        {
            if (run > 1 && OverBudget($"integrity run {run}")) break;
            _integrity.Add(await HoldStreamsAsync(o.IntegrityStreams, $"run {run}"));
            await AfterRunAsync($"{o.IntegrityStreams} run {run}");
            await Task.Delay(500, stop);
        }
    }

    /// <summary>More streams at once, one run per level, until a level loses, reorders or stalls a chunk.</summary>
    private async Task MoreStreamsAsync()
    {
        foreach (var streams in o.MoreStreams)
        {
            if (OverBudget($"{streams} streams")) break;
            var run = await HoldStreamsAsync(streams, "once");
            _moreStreams.Add(run);
            await AfterRunAsync($"{streams} once");
            if (!run.Clean) break;
            await Task.Delay(500, stop);
        }
    }

    private async Task<IntegrityRun> HoldStreamsAsync(int streams, string label)
    {
        var direct = await BurstAsync(Target.Direct, streams);
        var directStats = TargetStats.From(direct, DrainFake(), Delay);
        await Task.Delay(200, stop);

        var pid = _service.Pid;
        var before = Memory.ReadKb(pid, "VmRSS");
        var peakReset = Memory.ResetPeak(pid);
        using var sampling = new CancellationTokenSource();
        var sampler = Memory.SampleMaxAsync(pid, TimeSpan.FromMilliseconds(20), sampling.Token);
        var started = Stopwatch.GetTimestamp();
        var cpuBefore = ServiceCpu();
        var results = await BurstAsync(Target.ChatSlices, streams);
        AddServiceCpu($"c={streams} burst", cpuBefore, ServiceCpu(), streams);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        await sampling.CancelAsync();
        var sampled = await sampler;
        long? hwm = peakReset ? Memory.ReadKb(pid, "VmHWM") : null;
        var after = Memory.ReadKb(pid, "VmRSS");
        var run = new IntegrityRun(streams, Integrity.Check(results, o.Chunks), TargetStats.From(results, DrainFake(), Delay),
            Integrity.Check(direct, o.Chunks), directStats, before, sampled, hwm, after, seconds);
        Log($"{streams} streams {label}: {run.Check.Intact}/{run.Check.Streams} intact, lost {run.Check.Lost}, reordered {run.Check.Reordered}, longest gap {run.Check.LongestGapMs:0} ms" +
            $" ({seconds:0.00} s); RSS before {Mib(before)}, peak {Mib(run.PeakKb)}, after {Mib(after)}; TTFT p99 {run.Stats.TtftP99Ms:0.00} ms (direct {directStats.TtftP99Ms:0.00} ms)" +
            (run.Check.FirstProblem is { } p ? $"; first problem: {p}" : ""));
        return run;
    }

    /// <summary>--after-run: the command, bounded to 120 s, its output logged line by line.</summary>
    private async Task AfterRunAsync(string label)
    {
        if (o.AfterRun is not { Length: > 0 } command) return;
        var info = new ProcessStartInfo("bash") { ArgumentList = { "-c", command }, RedirectStandardOutput = true, RedirectStandardError = true };
        info.Environment["BENCH_SERVICE_PID"] = _service.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["BENCH_SERVICE_URL"] = _serviceUrl.ToString().TrimEnd('/');
        info.Environment["BENCH_RUN"] = label;
        using var process = Process.Start(info) ?? throw new BenchFailed("--after-run: bash did not start");
        var output = process.StandardOutput.ReadToEndAsync(stop);
        var errors = process.StandardError.ReadToEndAsync(stop);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(stop);
        limit.CancelAfter(TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            Note($"--after-run after {label} took over 120 s and was stopped");
            return;
        }
        foreach (var line in ((await output) + (await errors)).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            Log($"after-run {label}: {line}");
    }

    private void ConcurrentStreamsSection(StringBuilder s)
    {
        s.AppendLine("### Concurrent streams through ChatSlices (`/v1/chat/stream`)");
        s.AppendLine();
        s.AppendLine("| streams at once | run | intact | lost | reordered | failed | longest gap between chunks | wall time | TTFT p50 / p99 (direct at the same concurrency) | RSS before | peak RSS during | RSS after |");
        s.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|");
        foreach (var (r, i) in _integrity.Select((r, i) => (r, $"{i + 1}")).Concat(_moreStreams.Select(r => (r, "once"))))
            s.AppendLine($"| {r.Streams} | {i} | {r.Check.Intact}/{r.Check.Streams} | {r.Check.Lost} | {r.Check.Reordered} | {r.Check.Failed} | {Ms(r.Check.LongestGapMs)} | {F(r.Seconds, "0.00")} s | " +
                         $"{Ms(r.Stats.TtftP50Ms)} / {Ms(r.Stats.TtftP99Ms)} ({Ms(r.Direct.TtftP50Ms)} / {Ms(r.Direct.TtftP99Ms)}) | {Mib(r.RssBefore)} | {Mib(r.PeakKb)} | {Mib(r.RssAfter)} |");
        s.AppendLine();
        s.AppendLine($"Levels past {o.IntegrityStreams} ({string.Join(", ", o.MoreStreams)}) run once each and stop at the first that is not clean (a lost, reordered or failed stream, or a gap over {MaxGapMs:0} ms). " +
                     $"Service RSS when ready: {Mib(_rssReady)}. Peak = the larger of VmRSS sampled every 20 ms and VmHWM reset just before the run.");
        var firstProblem = _integrity.Concat(_moreStreams).Select(r => r.Check.FirstProblem).FirstOrDefault(p => p is not null);
        if (firstProblem is not null) s.AppendLine().AppendLine($"First problem seen: {firstProblem}");
        s.AppendLine();
    }

    private IEnumerable<object> ConcurrentStreamsJson() => _integrity.Concat(_moreStreams).Select(r => new
    {
        streams = r.Streams, intact = r.Check.Intact, lost = r.Check.Lost, reordered = r.Check.Reordered, failed = r.Check.Failed,
        longest_gap_ms = Round(r.Check.LongestGapMs), clean = r.Clean, peak_rss_mib = Round(r.PeakKb / 1024.0),
        ttft_p99_ms = Round(r.Stats.TtftP99Ms), direct_ttft_p99_ms = Round(r.Direct.TtftP99Ms),
    });
}

/// <summary>Whether each stream got every numbered chunk once and in order (the fake sends "c0 ", "c1 ", …).</summary>
public sealed partial record Integrity(int Streams, int Intact, int Failed, long Lost, long Reordered, long Duplicated, long Unexpected,
    double LongestGapMs, string? FirstProblem)
{
    [GeneratedRegex(@"^c(\d+) $")]
    private static partial Regex ChunkName();

    public static Integrity Check(IReadOnlyList<StreamResult> results, int chunks)
    {
        int intact = 0, failed = 0;
        long lost = 0, reordered = 0, duplicated = 0, unexpected = 0;
        string? first = null;
        var longestGap = 0.0;
        foreach (var r in results)
        {
            for (var i = 1; i < r.ArrivedAt.Count; i++) longestGap = Math.Max(longestGap, Stats.Us(r.ArrivedAt[i - 1], r.ArrivedAt[i]) / 1000);
            var seen = new HashSet<int>();
            var previous = -1;
            long rLost, rReordered = 0, rDup = 0, rUnexpected = 0;
            foreach (var text in r.Texts)
            {
                var m = ChunkName().Match(text);
                if (!m.Success || !int.TryParse(m.Groups[1].Value, out var index) || index >= chunks) { rUnexpected++; continue; }
                if (!seen.Add(index)) rDup++;
                else if (index < previous) rReordered++;
                previous = index;
            }
            rLost = chunks - seen.Count;
            var ok = r.Ok && r.Usage && rLost == 0 && rReordered == 0 && rDup == 0 && rUnexpected == 0 && r.Texts.Count == chunks;
            if (ok) intact++;
            if (!r.Ok) failed++;
            lost += rLost;
            reordered += rReordered;
            duplicated += rDup;
            unexpected += rUnexpected;
            if (!ok && first is null)
                first = r.Error ?? $"{r.Texts.Count} chunks, lost {rLost}, reordered {rReordered}, duplicated {rDup}, unexpected {rUnexpected}, usage {r.Usage}";
        }
        return new Integrity(results.Count, intact, failed, lost, reordered, duplicated, unexpected, longestGap, first);
    }
}
