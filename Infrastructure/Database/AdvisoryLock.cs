using Dapper;
using Npgsql;

namespace ChatSlices.Infrastructure.Database;

public static class AdvisoryLock
{
    /// <summary>
    /// Releases a session-level advisory lock in a <c>finally</c>. On a broken connection the unlock fails too; that failure is
    /// only logged, so it does not replace the exception on its way out, and the connection is kept out of the pool (closing it releases the lock).
    /// </summary>
    public static async Task ReleaseAsync(NpgsqlConnection conn, long key, ILogger logger)
    {
        try
        {
            await conn.ExecuteAsync("SELECT pg_advisory_unlock(@key)", new { key });
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            logger.LogWarning(e, "Could not release advisory lock {Key}; the connection is closed, which releases it", key);
            NpgsqlConnection.ClearPool(conn); // pooled connections are not reset on return: this one must not go back holding the lock
        }
    }
}
