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

    [Fact]
    public async Task UsageLedgerMigration_KeepsEveryStoredReply_WithItsOwnerModelTokensCostAndTime()
    {
        var ledger = Migrator.All.Single(m => m.Name.Contains("usage_ledger"));
        var cs = await TestDatabase.CreateEmptyAsync();
        try
        {
            await using var db = NpgsqlDataSource.Create(cs);
            await using var conn = await db.OpenConnectionAsync();
            // The database as it was before the ledger: the earlier migrations, and replies that only chat_messages holds.
            await Execute(conn, "CREATE TABLE schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
            foreach (var before in Migrator.All.Where(m => m.Version < ledger.Version))
            {
                await Execute(conn, before.Sql);
                await Execute(conn, $"INSERT INTO schema_migrations (version, name) VALUES ({before.Version}, '{before.Name}')");
            }
            await Execute(conn, """
                INSERT INTO users (id) VALUES ('old-user');
                INSERT INTO chat_sessions (id, user_id, model) VALUES ('00000000-0000-7000-8000-000000000001', 'old-user', 'session-model'),
                                                                      ('00000000-0000-7000-8000-000000000002', NULL, 'guest-model');
                INSERT INTO chat_messages (id, session_id, role, content, model, prompt_tokens, completion_tokens, cost, usage_estimated, created_at) VALUES
                    ('00000000-0000-7000-8000-0000000000a1', '00000000-0000-7000-8000-000000000001', 'user', 'q', 'm1', NULL, NULL, NULL, false, '2026-01-02T10:00:00Z'),
                    ('00000000-0000-7000-8000-0000000000a2', '00000000-0000-7000-8000-000000000001', 'assistant', 'a', 'm1', 100, 20, 0.25, false, '2026-01-02T10:00:01Z'),
                    ('00000000-0000-7000-8000-0000000000a3', '00000000-0000-7000-8000-000000000001', 'assistant', 'b', NULL, 7, 3, NULL, true, '2026-01-03T23:59:59Z'),
                    ('00000000-0000-7000-8000-0000000000a4', '00000000-0000-7000-8000-000000000002', 'assistant', 'c', 'm2', 5, 5, 0.01, false, '2026-01-04T00:00:00Z');
                """);

            (await new Migrator(db, NullLogger<Migrator>.Instance).MigrateAsync()).Should().Be(Migrator.All.Count(m => m.Version >= ledger.Version));

            await using var cmd = new NpgsqlCommand("""
                SELECT string_agg(concat_ws('|', coalesce(user_id, '-'), kind, model, prompt_tokens, completion_tokens, cost, estimated, message_id,
                                            to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')), E'\n' ORDER BY created_at)
                FROM usage_ledger
                """, conn);
            ((string)(await cmd.ExecuteScalarAsync())!).Split('\n').Should().Equal(
                "old-user|chat|m1|100|20|0.25000000|f|00000000-0000-7000-8000-0000000000a2|2026-01-02T10:00:01",
                "old-user|chat|session-model|7|3|0.00000000|t|00000000-0000-7000-8000-0000000000a3|2026-01-03T23:59:59",
                "-|chat|m2|5|5|0.01000000|f|00000000-0000-7000-8000-0000000000a4|2026-01-04T00:00:00");
        }
        finally
        {
            await TestDatabase.DropAsync(cs);
        }
    }

    [Fact]
    public async Task MessageOwnerMigration_GivesStoredMessagesTheirSessionsOwner_AndKeysTheirWordsByIt()
    {
        var owners = Migrator.All.Single(m => m.Name.Contains("history_search_by_owner"));
        var cs = await TestDatabase.CreateEmptyAsync();
        try
        {
            await using var db = NpgsqlDataSource.Create(cs);
            await using var conn = await db.OpenConnectionAsync();
            await Execute(conn, "CREATE TABLE schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
            foreach (var before in Migrator.All.Where(m => m.Version < owners.Version))
            {
                await Execute(conn, before.Sql);
                await Execute(conn, $"INSERT INTO schema_migrations (version, name) VALUES ({before.Version}, '{before.Name}')");
            }
            await Execute(conn, """
                INSERT INTO users (id) VALUES ('old-user');
                INSERT INTO chat_sessions (id, user_id, model) VALUES ('00000000-0000-7000-8000-000000000001', 'old-user', 'm'),
                                                                      ('00000000-0000-7000-8000-000000000002', NULL, 'm');
                INSERT INTO chat_messages (id, session_id, role, content) VALUES
                    ('00000000-0000-7000-8000-0000000000a1', '00000000-0000-7000-8000-000000000001', 'user', 'O''Neil asks about the wombat'),
                    ('00000000-0000-7000-8000-0000000000a2', '00000000-0000-7000-8000-000000000002', 'user', 'a guest asks about the wombat');
                """);

            (await new Migrator(db, NullLogger<Migrator>.Instance).MigrateAsync()).Should().Be(Migrator.All.Count(m => m.Version >= owners.Version));

            await using var cmd = new NpgsqlCommand("""
                SELECT string_agg(concat_ws('|', content, coalesce(user_id, '-'),
                                            owner_search @@ owner_query('old-user', websearch_to_tsquery('simple', '"o''neil asks" wombat'))),
                                  E'\n' ORDER BY id)
                FROM chat_messages
                """, conn);
            ((string)(await cmd.ExecuteScalarAsync())!).Split('\n').Should().Equal(
                "O'Neil asks about the wombat|old-user|t",
                "a guest asks about the wombat|-");
        }
        finally
        {
            await TestDatabase.DropAsync(cs);
        }
    }

    private static async Task Execute(NpgsqlConnection conn, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
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
