using System.Globalization;
using System.Text.Json;

namespace ChatSlices.Bench.Common;

/// <summary>How the benchmarks print and serialise their figures: invariant culture, "n/a" for what was not measured.</summary>
public static class Figures
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary><paramref name="v"/> in <paramref name="format"/>; "n/a" for NaN or infinity.</summary>
    public static string F(double v, string format = "0.00") =>
        double.IsNaN(v) || double.IsInfinity(v) ? "n/a" : v.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>Like <see cref="F"/>, with a "+" before a value that is not negative.</summary>
    public static string Signed(double v, string format) => (v >= 0 ? "+" : "") + F(v, format);

    /// <summary>
    /// "median (min…max)" of per-run values (<see cref="Stats.Median"/>); the one value when there is one run, "n/a" when
    /// there is none. <paramref name="range"/> is what stands between min and max.
    /// </summary>
    public static string Mmm(IReadOnlyList<double> perRun, string format = "0.00", bool signed = false, string range = "…")
    {
        if (perRun.Count == 0) return "n/a";
        string V(double v) => signed ? Signed(v, format) : F(v, format);
        return perRun.Count == 1 ? V(perRun[0]) : $"{V(Stats.Median(perRun))} ({V(perRun.Min())}{range}{V(perRun.Max())})";
    }

    /// <summary>Rounded to <paramref name="digits"/> decimals for JSON; null for NaN or infinity.</summary>
    public static double? Round(double v, int digits = 3) => double.IsNaN(v) || double.IsInfinity(v) ? null : Math.Round(v, digits);

    /// <summary>Per-run figures for results.json: median, min, max and the number of runs.</summary>
    public static object Json(IReadOnlyList<double> perRun) => perRun.Count == 0
        ? new { runs = 0 }
        : new { median = Round(Stats.Median(perRun)), min = Round(perRun.Min()), max = Round(perRun.Max()), runs = perRun.Count };

    /// <summary>Indented JSON, as the benchmarks write their figures for bench/results.json.</summary>
    public static string Serialize(object value) => JsonSerializer.Serialize(value, Indented);

    /// <summary>kB as MiB with <paramref name="format"/>; "n/a" when unknown.</summary>
    public static string Mib(long? kb, string format = "0.0") => kb is { } v ? (v / 1024.0).ToString(format, CultureInfo.InvariantCulture) + " MiB" : "n/a";
}
