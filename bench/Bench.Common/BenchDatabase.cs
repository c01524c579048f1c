using Npgsql;

namespace ChatSlices.Bench.Common;

/// <summary>The database a benchmark gives the service: on the cluster of <c>ConnectionStrings__Postgres</c>, created anew per run.</summary>
public static class BenchDatabase
{
    /// <summary>The admin connection string that <c>./run.sh --setup-only</c> exports.</summary>
    public static string AdminConnectionString() =>
        Environment.GetEnvironmentVariable("ConnectionStrings__Postgres") is { Length: > 0 } admin
            ? admin
            : throw new BenchFailed("ConnectionStrings__Postgres is not set (eval \"$(./run.sh --setup-only)\")");

    /// <summary>
    /// Drops <paramref name="name"/> (forcing its connections closed) and creates it empty: a schema that matches the build
    /// under test (a database migrated by a newer build would make an older one refuse to be ready). Returns its connection string.
    /// </summary>
    public static async Task<string> RecreateAsync(string admin, string name, Action<string> log, CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(admin);
        await conn.OpenAsync(ct);
        log($"creating database {name} (dropped first if it exists)");
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", conn);
        await drop.ExecuteNonQueryAsync(ct);
        await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", conn);
        await create.ExecuteNonQueryAsync(ct);
        return new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;
    }

    /// <summary>A server setting (<c>SHOW name</c>), e.g. server_version.</summary>
    public static async Task<string> ShowAsync(string connectionString, string setting, CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct);
        await using var show = new NpgsqlCommand($"SHOW {setting}", conn);
        return (string)(await show.ExecuteScalarAsync(ct))!;
    }
}
