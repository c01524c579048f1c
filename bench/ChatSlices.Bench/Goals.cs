using ChatSlices.Bench.Common;
using static ChatSlices.Bench.Common.Figures;

namespace ChatSlices.Bench;

/// <summary>The goals the issues set, each judged from the runs of the benchmarks: the report's first table.</summary>
public sealed partial class Bench
{
    /// <summary>Bifrost's published added latency per request (µs-level gateway): the bar the issue sets for added TTFT p99 at c=1.</summary>
    private const double BifrostMs = 1.2;
    private const double NginxTtftFactor = 3, NginxGapFactor = 2, RssGoalMb = 300;

    /// <summary>Issue 3's absolute targets: added TTFT p99 at c=1 and at c=256 (ms), added per-token gap p99 (µs).</summary>
    private const double TtftGoalC1Ms = 2, TtftGoalC256Ms = 10, GapGoalUs = 100;

    private static string Verdict(bool? met) => met switch { true => "**met**", false => "**missed**", null => "not measured" };

    private static bool? AtMost(IReadOnlyList<double> perRun, double limit) => perRun.Count == 0 ? null : Stats.Median(perRun) <= limit;

    private record Goal(string Name, string Measured, bool? Met);

    private List<Goal> Goals()
    {
        var goals = new List<Goal>();
        foreach (var t in Services) goals.AddRange(ServiceGoals(t));
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

    /// <summary>The latency goals of one service endpoint: absolute (issue 3, Bifrost) and relative to the nginx hop.</summary>
    private IEnumerable<Goal> ServiceGoals(Target t)
    {
        var goals = new List<Goal>();
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
        return goals;
    }
}
