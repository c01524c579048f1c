using System.Diagnostics;

namespace ChatSlices.Bench.Common;

/// <summary>
/// The one definition of percentiles and medians for every benchmark under bench/.
/// <list type="bullet">
/// <item><see cref="Percentile"/> is <b>nearest-rank</b>: the smallest sample such that at least p% of the samples are at
/// or below it, i.e. the sorted sample at rank ⌈p/100 · n⌉ (1-based). It is always a value that was measured (no
/// interpolation between two requests), so a p99 of 100 samples is the 99th smallest and a p99 of 10 samples is their
/// largest.</item>
/// <item><see cref="Median"/> is the ordinary median of a handful of per-run figures ("median of 3 runs"): the middle value,
/// or the mean of the two middle values for an even count. It summarises runs; percentiles summarise samples.</item>
/// </list>
/// </summary>
public static class Stats
{
    /// <summary>Nearest-rank percentile (p in 0..100) of <paramref name="values"/>; NaN when there are none.</summary>
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.ToArray();
        Array.Sort(sorted);
        var rank = (int)Math.Ceiling(p / 100.0 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    /// <summary>The median (mean of the two middle values for an even count); NaN values are left out; NaN when none is left.</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>Microseconds between two <see cref="Stopwatch"/> timestamps.</summary>
    public static double Us(long fromTicks, long toTicks) => (toTicks - fromTicks) * 1_000_000.0 / Stopwatch.Frequency;
}
