using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Telemetry;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ChatSlices.Infrastructure.RateLimiting;

/// <summary>
/// The daily upload quota (PDFs and their bytes, per UTC day) in PostgreSQL, beside the token quota in the caller's
/// <c>usage_daily</c> row, so every instance sees the same count. An upload reserves one file and its bytes with one
/// conditional update before its PDF is read and embedded; an upload that stores nothing (unreadable, refused, failed,
/// cancelled, or the same bytes stored by another upload meanwhile) gives them back.
/// </summary>
public sealed class UploadQuota(NpgsqlDataSource db, IOptions<RateLimitSettings> settings, TimeProvider clock, ChatMetrics metrics, ILogger<UploadQuota> logger)
{
    /// <summary>A reservation to release when the upload stores nothing.</summary>
    public sealed record Reservation(string Subject, DateOnly Day, long Bytes);

    // The day's row first; then the reservation, which takes effect only within both limits. The counts are read as they
    // were before it, to say which limit refused it.
    private const string ReserveSql = """
        INSERT INTO usage_daily (subject, day) VALUES (@Subject, @Day) ON CONFLICT (subject, day) DO NOTHING;
        WITH reserved AS (
            UPDATE usage_daily SET uploads = uploads + 1, upload_bytes = upload_bytes + @Bytes
            WHERE subject = @Subject AND day = @Day
              AND (@MaxFiles::int IS NULL OR uploads + 1 <= @MaxFiles)
              AND (@MaxBytes::bigint IS NULL OR upload_bytes + @Bytes <= @MaxBytes)
            RETURNING 1
        )
        SELECT EXISTS (SELECT 1 FROM reserved) AS reserved, d.uploads, d.upload_bytes
        FROM usage_daily d WHERE d.subject = @Subject AND d.day = @Day;
        """;

    private const string ReleaseSql = """
        UPDATE usage_daily SET uploads = greatest(0, uploads - 1), upload_bytes = greatest(0, upload_bytes - @Bytes)
        WHERE subject = @Subject AND day = @Day
        """;

    /// <returns>The reservation (null when the caller's tier has no upload limit), or a 429 failure.</returns>
    public async Task<Outcome<Reservation?>> ReserveAsync(Caller caller, long bytes, CancellationToken ct)
    {
        if (settings.Value.For(caller.Tier) is not { } limits || (limits.UploadsPerDay is null && limits.UploadBytesPerDay is null))
            return new Outcome<Reservation?>(null, null);
        var reservation = new Reservation(caller.Subject, DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime), bytes);
        await using var conn = await db.OpenConnectionAsync(ct);
        var (reserved, uploads, uploadBytes) = await conn.QuerySingleAsync<(bool, int, long)>(new CommandDefinition(ReserveSql, new
        {
            reservation.Subject, reservation.Day, reservation.Bytes, MaxFiles = limits.UploadsPerDay, MaxBytes = limits.UploadBytesPerDay,
        }, cancellationToken: ct));
        if (reserved) return reservation;
        metrics.Refused("upload_quota_exceeded", caller.Tier);
        var detail = limits.UploadsPerDay is { } files && uploads + 1 > files
            ? $"Your tier allows {files} uploads a day, and today's (UTC) are used up."
            : $"This file of {bytes} bytes would pass your tier's {limits.UploadBytesPerDay} bytes of uploads a day; {uploadBytes} are used today (UTC).";
        return new Failure(StatusCodes.Status429TooManyRequests, detail, "upload_quota_exceeded")
        {
            RetryAfterSeconds = TokenQuota.SecondsUntilTheDayAfter(reservation.Day, clock),
        };
    }

    /// <summary>
    /// Gives the reservation back (not tied to the request: the client may be gone). Runs in a <c>finally</c>: when the
    /// database cannot take it, that is logged and the upload stays counted for today.
    /// </summary>
    public async Task ReleaseAsync(Reservation reservation)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await using var conn = await db.OpenConnectionAsync(timeout.Token);
            await conn.ExecuteAsync(new CommandDefinition(ReleaseSql, reservation, cancellationToken: timeout.Token));
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException)
        {
            logger.LogError(e, "Releasing an upload quota reservation failed; the upload stays counted for today");
        }
    }
}
