using System.Globalization;

namespace DataBench;

/// <summary>Percentiles (linear interpolation) and the median/min/max of per-run figures.</summary>
public static class Stats
{
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.OrderBy(v => v).ToArray();
        var rank = p / 100.0 * (sorted.Length - 1);
        var lo = (int)Math.Floor(rank);
        var hi = (int)Math.Ceiling(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }

    public static double Median(IReadOnlyList<double> values) => Percentile(values, 50);

    /// <summary>"median (min–max)" of the per-run values.</summary>
    public static string Mmm(IReadOnlyList<double> perRun, string format = "0.00") =>
        string.Create(CultureInfo.InvariantCulture,
            $"{Median(perRun).ToString(format, CultureInfo.InvariantCulture)} ({perRun.Min().ToString(format, CultureInfo.InvariantCulture)}–{perRun.Max().ToString(format, CultureInfo.InvariantCulture)})");

    public static string F(double value, string format = "0.00") => value.ToString(format, CultureInfo.InvariantCulture);
}
