using ChatSlices.Infrastructure.Database;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace ChatSlices.Tests.Support;

/// <summary>
/// Databases on the real PostgreSQL that test.sh starts. One template is migrated per test run; each test class
/// gets its own copy (<c>CREATE DATABASE ... TEMPLATE</c>), so classes run in parallel without sharing rows.
/// </summary>
public static class TestDatabase
{
    // The run's start is in every name, so that a run only sweeps away databases of runs long gone, never those of
    // another run going on beside it.
    private static readonly string RunId = DateTime.UtcNow.ToString("yyMMddHHmm") + Guid.NewGuid().ToString("N")[..6];
    private static readonly TimeSpan LeftoverAge = TimeSpan.FromHours(3);
    private static readonly Lazy<Task<string>> Template = new(CreateTemplateAsync);

    public static string AdminConnectionString { get; } =
        Environment.GetEnvironmentVariable("ConnectionStrings__Postgres")
        ?? throw new InvalidOperationException("ConnectionStrings__Postgres is not set: run the tests through ./test.sh.");

    /// <summary>A fresh, migrated database; returns its connection string.</summary>
    public static async Task<string> CreateMigratedAsync()
    {
        var template = await Template.Value;
        return await CreateAsync($"TEMPLATE {template}");
    }

    /// <summary>A fresh database with nothing in it (not even the migrations ledger).</summary>
    public static Task<string> CreateEmptyAsync() => CreateAsync("");

    public static async Task DropAsync(string connectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        NpgsqlConnection.ClearAllPools();
        await ExecuteAdminAsync($"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    }

    private static async Task<string> CreateAsync(string templateClause)
    {
        var name = $"cs_test_{RunId}_{Guid.NewGuid():N}"[..48];
        await ExecuteAdminAsync($"CREATE DATABASE {name} {templateClause}");
        return WithDatabase(name);
    }

    private static async Task<string> CreateTemplateAsync()
    {
        await DropLeftoversAsync();
        var name = $"cs_tpl_{RunId}";
        await ExecuteAdminAsync($"CREATE DATABASE {name}");
        var connectionString = WithDatabase(name);
        await using (var dataSource = NpgsqlDataSource.Create(connectionString))
            await new Migrator(dataSource, NullLogger<Migrator>.Instance).MigrateAsync();
        NpgsqlConnection.ClearAllPools(); // a template must have no open connections
        return name;
    }

    /// <summary>Databases left by earlier runs that were killed before they could clean up.</summary>
    private static async Task DropLeftoversAsync()
    {
        await using var conn = new NpgsqlConnection(AdminConnectionString);
        await conn.OpenAsync();
        var names = new List<string>();
        await using (var cmd = new NpgsqlCommand("SELECT datname FROM pg_database WHERE datname LIKE 'cs\\_test\\_%' OR datname LIKE 'cs\\_tpl\\_%'", conn))
        await using (var reader = await cmd.ExecuteReaderAsync())
            while (await reader.ReadAsync()) names.Add(reader.GetString(0));
        foreach (var name in names.Where(IsOldLeftover))
        {
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", conn);
            await drop.ExecuteNonQueryAsync();
        }
    }

    private static bool IsOldLeftover(string name)
    {
        var stamp = name.Split('_').ElementAtOrDefault(2) ?? "";
        return stamp.Length >= 10
            && DateTime.TryParseExact(stamp[..10], "yyMMddHHmm", null, System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AdjustToUniversal, out var started)
            ? DateTime.UtcNow - started > LeftoverAge
            : true;
    }

    // Test classes run side by side, each with its own database and pool: small pools that let idle connections
    // go keep the cluster well under its max_connections.
    private static string WithDatabase(string name) =>
        new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name, MaxPoolSize = 30, ConnectionIdleLifetime = 15 }.ConnectionString;

    private static async Task ExecuteAdminAsync(string sql)
    {
        await using var conn = new NpgsqlConnection(AdminConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }
}
