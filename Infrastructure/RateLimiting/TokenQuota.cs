using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Telemetry;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ChatSlices.Infrastructure.RateLimiting;

/// <summary>
/// The daily token quota (prompt + completion, per UTC day) in PostgreSQL, so every instance sees the same count.
/// A turn reserves its worst case (prompt estimate + max_tokens) with one conditional update before the model is
/// called, and settles to what it used afterwards: concurrent turns cannot together spend past the limit.
/// </summary>
public sealed class TokenQuota(NpgsqlDataSource db, IOptions<RateLimitSettings> settings, TimeProvider clock, ChatMetrics metrics, ILogger<TokenQuota> logger)
{
    /// <summary>A reservation to settle when the turn ends.</summary>
    public sealed record Reservation(string Subject, DateOnly Day, long Tokens)
    {
        public long Limit { get; init; }
        public string Tier { get; init; } = "";
    }

    /// <summary>
    /// The reservation as part of a caller's own transaction (the one that starts a chat turn): the row of the day first,
    /// then a statement with the <see cref="ReservedCte"/>, whose <c>reserved</c> rows it reads (none: over the limit).
    /// </summary>
    public const string EnsureDaySql = "INSERT INTO usage_daily (subject, day, tokens) VALUES (@Subject, @Day, 0) ON CONFLICT (subject, day) DO NOTHING;";

    public const string ReservedCte = """
        reserved AS (
            UPDATE usage_daily SET tokens = tokens + @Tokens
            WHERE subject = @Subject AND day = @Day AND tokens + @Tokens <= @Limit
            RETURNING 1
        )
        """;

    // The quota's writes commit without waiting for the WAL flush (about 2.5 ms an fsync here, before the first byte
    // of every turn): a crash may forget the last moments of counting, which a daily quota can afford.
    private const string ReserveSql = """
        WITH relaxed AS (SELECT set_config('synchronous_commit', 'off', true))
        INSERT INTO usage_daily (subject, day, tokens) SELECT @Subject, @Day, 0 FROM relaxed ON CONFLICT (subject, day) DO NOTHING;
        UPDATE usage_daily SET tokens = tokens + @Tokens
        WHERE subject = @Subject AND day = @Day AND tokens + @Tokens <= @Limit
        RETURNING tokens;
        """;

    /// <summary>The settlement, for a caller that runs it in its own transaction (the one storing the turn's reply).</summary>
    public const string SettleInTransactionSql =
        "UPDATE usage_daily SET tokens = greatest(0, tokens - @Reserved + @Used) WHERE subject = @Subject AND day = @Day";

    private const string SettleSql = """
        UPDATE usage_daily SET tokens = greatest(0, tokens - @Reserved + @Used)
        FROM (SELECT set_config('synchronous_commit', 'off', true)) relaxed
        WHERE subject = @Subject AND day = @Day
        """;

    /// <summary>What reserving <paramref name="tokens"/> for the caller would take; null when the caller's tier has no daily limit.</summary>
    public Reservation? For(Caller caller, long tokens)
    {
        if (settings.Value.For(caller.Tier)?.TokensPerDay is not { } limit) return null;
        return new Reservation(caller.Subject, DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime), tokens) { Limit = limit, Tier = caller.Tier };
    }

    /// <summary>The 429 for a reservation that does not fit in what is left of the day (counted as a refusal).</summary>
    public Failure Refused(Reservation reservation)
    {
        const string code = "token_quota_exceeded";
        metrics.Refused(code, reservation.Tier);
        return new Failure(StatusCodes.Status429TooManyRequests,
            $"This turn could use up to {reservation.Tokens} tokens, more than is left of your tier's {reservation.Limit} tokens for today (UTC).", code)
        {
            RetryAfterSeconds = SecondsUntilTheDayAfter(reservation.Day, clock),
        };
    }

    /// <summary>When a daily quota of <paramref name="day"/> starts afresh: the next UTC midnight, in seconds from now.</summary>
    public static int SecondsUntilTheDayAfter(DateOnly day, TimeProvider clock)
    {
        var midnight = new DateTimeOffset(day.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        return (int)Math.Ceiling((midnight - clock.GetUtcNow()).TotalSeconds);
    }

    /// <returns>The reservation (null when the caller's tier has no daily limit), or a 429 failure.</returns>
    public async Task<Outcome<Reservation?>> ReserveAsync(Caller caller, long tokens, CancellationToken ct)
    {
        if (For(caller, tokens) is not { } reservation) return new Outcome<Reservation?>(null, null);
        await using var conn = await db.OpenConnectionAsync(ct);
        var reserved = await conn.QuerySingleOrDefaultAsync<long?>(new CommandDefinition(ReserveSql,
            new { reservation.Subject, reservation.Day, reservation.Tokens, reservation.Limit }, cancellationToken: ct));
        return reserved is null ? Refused(reservation) : reservation;
    }

    /// <summary>
    /// Replaces the reservation by what the turn really used (not tied to the request: the client may be gone). Runs in a
    /// <c>finally</c>: when the database cannot take it, that is logged and the reservation stays counted for today.
    /// </summary>
    public async Task SettleAsync(Reservation reservation, long used)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await using var conn = await db.OpenConnectionAsync(timeout.Token);
            await conn.ExecuteAsync(new CommandDefinition(SettleSql,
                new { reservation.Subject, reservation.Day, Reserved = reservation.Tokens, Used = used }, cancellationToken: timeout.Token));
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException)
        {
            logger.LogError(e, "Settling the token quota failed; the reservation stays counted for today");
        }
    }
}
