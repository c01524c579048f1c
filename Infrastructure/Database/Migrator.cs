using System.Reflection;
using System.Text.RegularExpressions;
using Dapper;
using Npgsql;

namespace ChatSlices.Infrastructure.Database;

public sealed record Migration(int Version, string Name, string Sql);

/// <summary>
/// Applies the numbered <c>Migrations/NNNN_name.sql</c> files embedded in the assembly, each once and in its own
/// transaction, under an advisory lock so that instances starting together take turns.
/// </summary>
public sealed partial class Migrator(NpgsqlDataSource db, ILogger<Migrator> logger)
{
    private const long AdvisoryLockKey = 0x43_68_61_74_53_6c_69_63; // "ChatSlic"

    private const string CreateLedgerSql = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    int PRIMARY KEY,
            name       text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """;

    public static IReadOnlyList<Migration> All { get; } = LoadEmbedded();

    public static int LatestVersion => All[^1].Version;

    public async Task<int> MigrateAsync(CancellationToken ct = default)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await conn.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_lock(@key)", new { key = AdvisoryLockKey }, cancellationToken: ct));
        try
        {
            await conn.ExecuteAsync(new CommandDefinition(CreateLedgerSql, cancellationToken: ct));
            var applied = (await conn.QueryAsync<int>(new CommandDefinition("SELECT version FROM schema_migrations", cancellationToken: ct))).ToHashSet();
            var pending = All.Where(m => !applied.Contains(m.Version)).ToList();
            foreach (var migration in pending)
            {
                await using var tx = await conn.BeginTransactionAsync(ct);
                await conn.ExecuteAsync(new CommandDefinition(migration.Sql, transaction: tx, cancellationToken: ct));
                await conn.ExecuteAsync(new CommandDefinition(
                    "INSERT INTO schema_migrations (version, name) VALUES (@Version, @Name)", migration, tx, cancellationToken: ct));
                await tx.CommitAsync(ct);
                LogApplied(migration.Version, migration.Name);
            }
            return pending.Count;
        }
        finally
        {
            await AdvisoryLock.ReleaseAsync(conn, AdvisoryLockKey, logger);
        }
    }

    private static List<Migration> LoadEmbedded()
    {
        var assembly = Assembly.GetExecutingAssembly();
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            var match = ResourceName().Match(resource);
            if (!match.Success) continue;
            using var reader = new StreamReader(assembly.GetManifestResourceStream(resource)!);
            migrations.Add(new Migration(int.Parse(match.Groups[1].Value), match.Groups[2].Value, reader.ReadToEnd()));
        }
        if (migrations.Count == 0) throw new InvalidOperationException("No migrations are embedded in the assembly.");
        var duplicate = migrations.GroupBy(m => m.Version).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new InvalidOperationException($"Two migrations share version {duplicate.Key}.");
        return migrations.OrderBy(m => m.Version).ToList();
    }

    [GeneratedRegex(@"^Migrations\.(\d{4})_([a-z0-9_]+)\.sql$")]
    private static partial Regex ResourceName();

    [LoggerMessage(LogLevel.Information, "Applied migration {Version} {Name}")]
    partial void LogApplied(int version, string name);
}
