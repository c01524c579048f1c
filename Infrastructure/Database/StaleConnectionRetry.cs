using System.Net.Sockets;
using Npgsql;

namespace ChatSlices.Infrastructure.Database;

/// <summary>
/// After PostgreSQL restarts, every idle pooled connection is dead, and Npgsql finds out only by using one: the first
/// request after the restart fails (Npgsql then clears the pool). Such a request is run once more when nothing has been
/// sent to the client yet and its body can be read again. Every pooled connection died at once, so in practice such a
/// request failed on its first use of the database, before it wrote anything.
/// </summary>
public static class StaleConnectionRetry
{
    /// <summary>
    /// Bodies of a known size up to this are kept in memory so the request can be replayed; larger ones (uploads) are not
    /// retried. A chunked body (no length) is kept too, beyond this size in a temporary file, unless it is a form (uploads).
    /// </summary>
    private const int MaxReplayableBody = 64 * 1024;

    public static IApplicationBuilder UseStaleConnectionRetry(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        var replayable = http.Request.ContentLength is { } length ? length <= MaxReplayableBody : !http.Request.HasFormContentType;
        if (replayable) http.Request.EnableBuffering(MaxReplayableBody);
        try
        {
            await next(http);
        }
        catch (Exception e) when (replayable && !http.Response.HasStarted && !http.RequestAborted.IsCancellationRequested && IsDeadConnection(e))
        {
            http.RequestServices.GetRequiredService<ILogger<NpgsqlDataSource>>()
                .LogWarning(e, "A pooled database connection was dead (PostgreSQL restarted?); running the request once more");
            http.Request.Body.Position = 0;
            await next(http);
        }
    });

    /// <summary>A connection the server closed (restart, crash, terminated backend) — not a timeout, not a refusal.</summary>
    private static bool IsDeadConnection(Exception e) => e switch
    {
        PostgresException pg => pg.SqlState is "57P01" or "57P02", // admin_shutdown, crash_shutdown
        NpgsqlException { InnerException: IOException or EndOfStreamException or SocketException { SocketErrorCode: SocketError.ConnectionReset } } => true,
        _ when e.InnerException is { } inner => IsDeadConnection(inner),
        _ => false,
    };
}
