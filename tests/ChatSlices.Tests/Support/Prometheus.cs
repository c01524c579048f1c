using System.Globalization;

namespace ChatSlices.Tests.Support;

/// <summary>Reads samples from a Prometheus text exposition (<c>GET /metrics</c>).</summary>
public static class Prometheus
{
    /// <summary>
    /// The sum of the samples of <paramref name="metric"/> whose labels include every one of <paramref name="labels"/>
    /// (<c>name="value"</c>), or null when there is none.
    /// </summary>
    public static double? Sample(string exposition, string metric, params string[] labels)
    {
        double? sum = null;
        foreach (var line in exposition.Split('\n'))
        {
            if (line.StartsWith('#') || !line.StartsWith(metric, StringComparison.Ordinal)) continue;
            var rest = line[metric.Length..];
            if (rest.Length == 0 || (rest[0] != '{' && rest[0] != ' ')) continue; // another metric with this prefix
            var labelsEnd = rest.StartsWith('{') ? rest.IndexOf('}') : -1;
            var labelText = labelsEnd > 0 ? rest[1..labelsEnd] : "";
            if (!labels.All(l => labelText.Split(',').Contains(l))) continue;
            var value = rest[(labelsEnd + 1)..].Trim().Split(' ')[0];
            sum = (sum ?? 0) + double.Parse(value, CultureInfo.InvariantCulture);
        }
        return sum;
    }
}
