using Npgsql;

namespace ChatSlices.Bench.Common;

/// <summary>One statement's share of a measured span, from <c>pg_stat_statements</c>.</summary>
public sealed record StatementStat(long Calls, double TotalMs, double MeanMs, string Query);

/// <summary>
/// <c>pg_stat_statements</c> of one database: reset before a measured span, its top statements by total execution time
/// after it. Available only when the cluster preloads the library (run.sh sets <c>shared_preload_libraries</c>).
/// </summary>
public static class StatementStats
{
    /// <summary>Creates the extension in the database and clears its counts; false when the cluster does not load it.</summary>
    public static async Task<bool> ResetAsync(string connectionString, CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct);
        await using var loaded = new NpgsqlCommand("SELECT current_setting('shared_preload_libraries') LIKE '%pg_stat_statements%'", conn);
        if (!(bool)(await loaded.ExecuteScalarAsync(ct))!) return false;
        await using var reset = new NpgsqlCommand("CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset()", conn);
        await reset.ExecuteNonQueryAsync(ct);
        return true;
    }

    /// <summary>The database's <paramref name="top"/> statements by total execution time since the last reset.</summary>
    public static async Task<List<StatementStat>> TopAsync(string connectionString, int top, CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct);
        await using var cmd = new NpgsqlCommand("""
            SELECT calls, total_exec_time, mean_exec_time, left(regexp_replace(query, '\s+', ' ', 'g'), 160)
            FROM pg_stat_statements
            WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%pg_stat_statements%'
            ORDER BY total_exec_time DESC LIMIT @top
            """, conn);
        cmd.Parameters.AddWithValue("top", top);
        var stats = new List<StatementStat>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            stats.Add(new StatementStat(reader.GetInt64(0), reader.GetDouble(1), reader.GetDouble(2), reader.GetString(3)));
        return stats;
    }
}
