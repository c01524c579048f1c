namespace ChatSlices.Bench.Common;

/// <summary>Resident memory of a process, from <c>/proc/PID/status</c> (kB).</summary>
public static class Memory
{
    public static long? ReadKb(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (!line.StartsWith(field + ":", StringComparison.Ordinal)) continue;
                var digits = new string(line.AsSpan(field.Length + 1).ToArray().Where(char.IsDigit).ToArray());
                return long.TryParse(digits, out var kb) ? kb : null;
            }
        }
        catch (IOException)
        {
        }
        return null;
    }

    /// <summary>User + system CPU time of a process so far, in ms (from <c>/proc/PID/stat</c>, 10 ms resolution).</summary>
    public static double? CpuMs(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(rest[11]) + long.Parse(rest[12])) * 10.0; // USER_HZ = 100
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>Resets the peak (VmHWM) to the current RSS (Linux 4.0+: <c>echo 5 &gt; /proc/PID/clear_refs</c>).</summary>
    public static bool ResetPeak(int pid)
    {
        try
        {
            File.WriteAllText($"/proc/{pid}/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Samples VmRSS every <paramref name="every"/> until stopped; returns the largest value seen (kB).</summary>
    public static async Task<long> SampleMaxAsync(int pid, TimeSpan every, CancellationToken stop)
    {
        long max = 0;
        while (!stop.IsCancellationRequested)
        {
            if (ReadKb(pid, "VmRSS") is { } rss && rss > max) max = rss;
            try
            {
                await Task.Delay(every, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        if (ReadKb(pid, "VmRSS") is { } last && last > max) max = last;
        return max;
    }
}
