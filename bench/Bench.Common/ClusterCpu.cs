using Npgsql;

namespace ChatSlices.Bench.Common;

/// <summary>
/// CPU time of one PostgreSQL cluster, from /proc: its postmaster and every process it started (backends, WAL writer,
/// checkpointer…). A backend that exits meanwhile still counts, through the postmaster's times of its reaped children.
/// </summary>
public sealed class ClusterCpu
{
    private readonly int _postmaster;

    private ClusterCpu(int postmaster) => _postmaster = postmaster;

    /// <summary>The cluster that <paramref name="connectionString"/> reaches (it must run on this machine), or null.</summary>
    public static async Task<ClusterCpu?> FindAsync(string connectionString, CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand("SELECT pg_backend_pid()", conn);
        var backend = (int)(await cmd.ExecuteScalarAsync(ct))!;
        return CpuAccount.Processes().FirstOrDefault(p => p.Pid == backend) is { } process ? new ClusterCpu(process.ParentPid) : null;
    }

    /// <summary>CPU milliseconds the cluster has used so far.</summary>
    public double Ms()
    {
        long ticks = 0;
        foreach (var p in CpuAccount.Processes())
        {
            if (p.Pid == _postmaster) ticks += p.Ticks + p.ReapedChildTicks;
            else if (p.ParentPid == _postmaster) ticks += p.Ticks;
        }
        return ticks * 10.0; // USER_HZ = 100
    }
}
