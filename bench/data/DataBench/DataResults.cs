using ChatSlices.Bench.Common;

namespace DataBench;

/// <summary>How the data part reports: its tables' "median (min–max)", and each scenario's figures as JSON for bench/run.sh.</summary>
internal static class DataResults
{
    /// <summary>"median (min–max)" of per-run values (<see cref="Figures.Mmm"/>, with the data tables' en dash).</summary>
    public static string Mmm(IReadOnlyList<double> perRun, string format = "0.00") => Figures.Mmm(perRun, format, range: "–");

    /// <summary>Writes <paramref name="figures"/> to DATABENCH_JSON_DIR/&lt;scenario&gt;.json when that is set (bench/data/run.sh sets it).</summary>
    public static void Write(string scenario, object figures)
    {
        if (Environment.GetEnvironmentVariable("DATABENCH_JSON_DIR") is not { Length: > 0 } dir) return;
        File.WriteAllText(Path.Combine(dir, scenario + ".json"), Figures.Serialize(figures));
    }
}
