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

    /// <summary>The per-run figures for results.json: median, min, max.</summary>
    public static object Json(IReadOnlyList<double> perRun) => perRun.Count == 0
        ? new { runs = 0 }
        : new { median = Math.Round(Median(perRun), 3), min = Math.Round(perRun.Min(), 3), max = Math.Round(perRun.Max(), 3), runs = perRun.Count };
}

/// <summary>Each scenario's figures as JSON, for bench/run.sh's results.json: written to DATABENCH_JSON_DIR/&lt;scenario&gt;.json when that is set.</summary>
public static class Results
{
    public static void Write(string scenario, object figures)
    {
        if (Environment.GetEnvironmentVariable("DATABENCH_JSON_DIR") is not { Length: > 0 } dir) return;
        File.WriteAllText(Path.Combine(dir, scenario + ".json"), System.Text.Json.JsonSerializer.Serialize(figures, new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }
}
