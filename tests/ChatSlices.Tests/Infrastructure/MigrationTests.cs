using ChatSlices.Infrastructure.Database;
using ChatSlices.Tests.Security;
using ChatSlices.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace ChatSlices.Tests.Infrastructure;

public class MigrationTests
{
    [Fact]
    public async Task Migrations_ApplyOnceOnAnEmptyDatabase_AndAreANoOpTheSecondTime()
    {
        var cs = await TestDatabase.CreateEmptyAsync();
        try
        {
            await using var db = NpgsqlDataSource.Create(cs);
            var migrator = new Migrator(db, NullLogger<Migrator>.Instance);

            (await migrator.MigrateAsync()).Should().Be(Migrator.All.Count);
            (await migrator.MigrateAsync()).Should().Be(0);

            await using var conn = await db.OpenConnectionAsync();
            (await Versions(conn)).Should().Equal(Migrator.All.Select(m => m.Version));
            await using var users = new NpgsqlCommand("SELECT to_regclass('users') IS NOT NULL AND EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector')", conn);
            ((bool)(await users.ExecuteScalarAsync())!).Should().BeTrue();
        }
        finally
        {
            await TestDatabase.DropAsync(cs);
        }
    }

    [Fact]
    public async Task ConcurrentMigrators_TakeTurns_AndApplyEachMigrationOnce()
    {
        var cs = await TestDatabase.CreateEmptyAsync();
        try
        {
            await using var db = NpgsqlDataSource.Create(cs);
            var applied = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ =>
                Task.Run(() => new Migrator(db, NullLogger<Migrator>.Instance).MigrateAsync())));

            applied.Sum().Should().Be(Migrator.All.Count, "exactly one migrator applies each migration");
            await using var conn = await db.OpenConnectionAsync();
            (await Versions(conn)).Should().Equal(Migrator.All.Select(m => m.Version));
        }
        finally
        {
            await TestDatabase.DropAsync(cs);
        }
    }

    [Fact]
    public async Task TwoInstancesStartingTogetherOnAnEmptyDatabase_BothBecomeReady()
    {
        var cs = await TestDatabase.CreateEmptyAsync();
        try
        {
            await using var first = new ApiFactory().With("ConnectionStrings:Postgres", cs);
            await using var second = new ApiFactory().With("ConnectionStrings:Postgres", cs);
            var responses = await Task.WhenAll(
                Task.Run(() => first.CreateClient().GetAsync("/health/ready")),
                Task.Run(() => second.CreateClient().GetAsync("/health/ready")));

            responses.Select(r => (int)r.StatusCode).Should().Equal(200, 200);
            await using var db = NpgsqlDataSource.Create(cs);
            await using var conn = await db.OpenConnectionAsync();
            (await Versions(conn)).Should().Equal(Migrator.All.Select(m => m.Version));
        }
        finally
        {
            await TestDatabase.DropAsync(cs);
        }
    }

    private static async Task<List<int>> Versions(NpgsqlConnection conn)
    {
        await using var cmd = new NpgsqlCommand("SELECT version FROM schema_migrations ORDER BY version", conn);
        await using var reader = await cmd.ExecuteReaderAsync();
        var versions = new List<int>();
        while (await reader.ReadAsync()) versions.Add(reader.GetInt32(0));
        return versions;
    }

    [Fact]
    public async Task AdvisoryLockRelease_OnABrokenConnection_LogsInsteadOfThrowing()
    {
        var cs = await TestDatabase.CreateEmptyAsync();
        try
        {
            await using var db = NpgsqlDataSource.Create(cs);
            await using var conn = await db.OpenConnectionAsync();
            await using (var lockIt = new NpgsqlCommand("SELECT pg_advisory_lock(42)", conn)) await lockIt.ExecuteNonQueryAsync();
            await using (var admin = await db.OpenConnectionAsync())
            await using (var kill = new NpgsqlCommand($"SELECT pg_terminate_backend({conn.ProcessID})", admin))
                await kill.ExecuteNonQueryAsync();
            var log = new LogSink();

            await AdvisoryLock.ReleaseAsync(conn, 42, log.CreateLogger("test"));

            log.Since(0).Should().ContainSingle(e => e.Message.Contains("Could not release advisory lock 42"));
        }
        finally
        {
            await TestDatabase.DropAsync(cs);
        }
    }
}
