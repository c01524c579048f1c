using System.Globalization;
using System.Runtime.InteropServices;

namespace ChatSlices.Bench.Common;

/// <summary>What the report says about the machine, from /proc and /etc; "?" for what cannot be read.</summary>
public static class Machine
{
    public static string CpuModel()
    {
        var line = ReadLines("/proc/cpuinfo")?.FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
        return line is null ? "?" : line[(line.IndexOf(':') + 1)..].Trim();
    }

    public static string MemTotal()
    {
        var lines = ReadLines("/proc/meminfo");
        if (lines is null) return "?";
        var line = lines.FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        var kb = line is null ? 0 : long.Parse(new string(line.Where(char.IsDigit).ToArray()), CultureInfo.InvariantCulture);
        return $"{kb / 1024.0 / 1024.0:0.0} GiB";
    }

    public static string OsName()
    {
        var line = ReadLines("/etc/os-release")?.FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal));
        return line is null ? RuntimeInformation.OSDescription : line["PRETTY_NAME=".Length..].Trim('"');
    }

    public static string Kernel() => ReadText("/proc/sys/kernel/osrelease")?.Trim() ?? "?";

    /// <summary>The 1, 5 and 15 minute load averages, as /proc/loadavg gives them.</summary>
    public static string LoadAverage() => ReadText("/proc/loadavg") is { } text ? string.Join(' ', text.Split(' ').Take(3)) : "?";

    private static List<string>? ReadLines(string path)
    {
        try
        {
            return [.. File.ReadLines(path)];
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static string? ReadText(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return null;
        }
    }
}
