namespace ChatSlices.Bench.Common;

/// <summary>
/// How much of the machine's CPU went to the processes under test (this bench, the service, nginx, PostgreSQL)
/// and how much to anything else, from <c>/proc/stat</c> and <c>/proc/PID/stat</c>: other work on the same cores
/// (a build, a test run) would skew the numbers, and this says so.
/// </summary>
public sealed class CpuAccount
{
    private readonly long _totalAtStart;
    private readonly Dictionary<int, long> _atStart;
    private readonly DateTime _startedAt = DateTime.UtcNow;

    private CpuAccount(long total, Dictionary<int, long> processes)
    {
        _totalAtStart = total;
        _atStart = processes;
    }

    public static CpuAccount? Start()
    {
        var total = TotalBusy();
        return total is null ? null : new CpuAccount(total.Value, Processes().ToDictionary(p => p.Pid, p => p.Ticks));
    }

    /// <summary>(ours, others, wall) in core-seconds, with the pids counted as ours.</summary>
    public (double Ours, double Others, double Wall) Stop(Func<ProcessTicks, bool> isOurs)
    {
        var total = TotalBusy() ?? _totalAtStart;
        long ours = 0;
        foreach (var p in Processes().Where(isOurs))
            ours += p.Ticks - _atStart.GetValueOrDefault(p.Pid, 0);
        var hz = 100.0; // USER_HZ; 100 on Linux
        var busy = (total - _totalAtStart) / hz;
        return (ours / hz, Math.Max(0, busy - ours / hz), (DateTime.UtcNow - _startedAt).TotalSeconds);
    }

    /// <summary>The busy share of all cores over <paramref name="window"/> (0..1), or null when /proc/stat cannot be read.</summary>
    public static async Task<double?> BusyFractionAsync(TimeSpan window, CancellationToken ct)
    {
        var a = Snapshot();
        await Task.Delay(window, ct);
        var b = Snapshot();
        if (a is null || b is null || b.Value.All == a.Value.All) return null;
        return (double)(b.Value.Busy - a.Value.Busy) / (b.Value.All - a.Value.All);
    }

    private static (long Busy, long All)? Snapshot()
    {
        try
        {
            var f = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8).Select(long.Parse).ToArray();
            return f.Length < 8 ? null : (f[0] + f[1] + f[2] + f[5] + f[6] + f[7], f.Sum());
        }
        catch (Exception e) when (e is IOException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <param name="ReapedChildTicks">CPU of its children that have exited (cutime + cstime).</param>
    public sealed record ProcessTicks(int Pid, int ParentPid, string Command, long Ticks, long ReapedChildTicks);

    private static long? TotalBusy()
    {
        try
        {
            var cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // cpu user nice system idle iowait irq softirq steal …
            long Field(int i) => cpu.Length > i ? long.Parse(cpu[i]) : 0;
            return Field(1) + Field(2) + Field(3) + Field(6) + Field(7) + Field(8);
        }
        catch (Exception e) when (e is IOException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    public static IEnumerable<ProcessTicks> Processes()
    {
        IEnumerable<string> dirs;
        try
        {
            dirs = Directory.EnumerateDirectories("/proc").ToList();
        }
        catch (IOException)
        {
            yield break;
        }
        foreach (var dir in dirs)
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(dir, "stat"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            // pid (comm) state ppid … utime(14) stime(15) cutime(16) cstime(17): comm may hold spaces, so split after ')'.
            var open = stat.IndexOf('(');
            var close = stat.LastIndexOf(')');
            if (open < 0 || close < 0) continue;
            var comm = stat[(open + 1)..close];
            var rest = stat[(close + 2)..].Split(' ');
            if (rest.Length < 15) continue;
            if (!int.TryParse(rest[1], out var ppid) || !long.TryParse(rest[11], out var utime) || !long.TryParse(rest[12], out var stime)
                || !long.TryParse(rest[13], out var cutime) || !long.TryParse(rest[14], out var cstime)) continue;
            yield return new ProcessTicks(pid, ppid, comm, utime + stime, cutime + cstime);
        }
    }
}
