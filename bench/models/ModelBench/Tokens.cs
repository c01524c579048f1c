using ChatSlices.Infrastructure.AI;

namespace ModelBench;

/// <summary>The reference token counts of tests/ChatSlices.Tests/Data/token-counts.tsv against <see cref="TokenCounter"/>.</summary>
internal static class Tokens
{
    public static int Run(string path)
    {
        var rows = File.ReadLines(path).Where(l => l.Length > 0 && l[0] != '#').Select(l => l.Split('\t')).ToList();
        var wrong = rows.Where(r => TokenCounter.Named(r[0]).Count(r[2]) != int.Parse(r[1])).ToList();
        Console.WriteLine($"### Token counts: {rows.Count - wrong.Count} of {rows.Count} reference counts exact " +
                          $"({string.Join(", ", rows.GroupBy(r => r[0]).Select(g => $"{g.Count()} {g.Key}"))})");
        foreach (var r in wrong) Console.WriteLine($"- {r[0]} \"{r[2]}\": {TokenCounter.Named(r[0]).Count(r[2])}, reference {r[1]}");
        Console.WriteLine();
        return wrong.Count == 0 ? 0 : 1;
    }
}
