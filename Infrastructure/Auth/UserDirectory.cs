using System.Collections.Concurrent;
using System.Security.Claims;
using Dapper;
using Npgsql;

namespace ChatSlices.Infrastructure.Auth;

/// <summary>
/// Upserts the caller's row. A caller seen recently by this instance is not written again, so the
/// round trip is paid about once per user per <see cref="RefreshAfter"/>, not on every request.
/// </summary>
public sealed class UserDirectory(NpgsqlDataSource db, TimeProvider clock)
{
    private static readonly TimeSpan RefreshAfter = TimeSpan.FromMinutes(5);
    private const int MaxRemembered = 100_000;

    private const string UpsertSql = """
        INSERT INTO users (id, name, email, tier)
        VALUES (@Id, @Name, @Email, @Tier)
        ON CONFLICT (id) DO UPDATE
        SET name = EXCLUDED.name, email = EXCLUDED.email, tier = EXCLUDED.tier, last_seen_at = now()
        """;

    private readonly ConcurrentDictionary<string, (string Fingerprint, DateTimeOffset At)> _seen = new();

    public async Task EnsureAsync(ClaimsPrincipal user, CancellationToken ct)
    {
        var row = new { Id = user.RequiredUserId(), Name = user.FindFirstValue("name"), Email = user.FindFirstValue("email"), Tier = user.Tier() };
        var fingerprint = $"{row.Name}\n{row.Email}\n{row.Tier}";
        var now = clock.GetUtcNow();
        if (_seen.TryGetValue(row.Id, out var seen) && seen.Fingerprint == fingerprint && now - seen.At < RefreshAfter) return;

        await using var conn = await db.OpenConnectionAsync(ct);
        await conn.ExecuteAsync(new CommandDefinition(UpsertSql, row, cancellationToken: ct));
        if (_seen.Count >= MaxRemembered) _seen.Clear();
        _seen[row.Id] = (fingerprint, now);
    }
}
