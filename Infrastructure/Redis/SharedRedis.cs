using StackExchange.Redis;

namespace ChatSlices.Infrastructure.Redis;

/// <summary>
/// Redis as the optional engine that instances share (<c>Redis:Connection</c>, a StackExchange.Redis configuration
/// string such as <c>127.0.0.1:6379</c>). Unset: <see cref="Connection"/> is null and everything stays in process, as
/// one instance needs. Set: the rate limits are global and streams can be resumed and cancelled from any instance.
/// PostgreSQL stays the system of record: nothing is lost when Redis is.
/// </summary>
public sealed class SharedRedis : IDisposable
{
    public const string Section = "Redis";

    public IConnectionMultiplexer? Connection { get; }

    public SharedRedis(IConfiguration configuration, ILogger<SharedRedis> logger)
    {
        if (configuration[$"{Section}:Connection"] is not { Length: > 0 } connection) return;
        var options = ConfigurationOptions.Parse(connection);
        // Start (and keep serving) while Redis is down; the multiplexer reconnects on its own.
        options.AbortOnConnectFail = false;
        options.ClientName ??= "chatslices";
        options.ConnectTimeout = Math.Min(options.ConnectTimeout, 2_000);
        options.SyncTimeout = options.AsyncTimeout = Math.Min(options.AsyncTimeout, 1_000);
        Connection = ConnectionMultiplexer.Connect(options);
        Connection.ConnectionFailed += (_, e) => logger.LogWarning("Redis connection lost ({FailureType}): limits are per instance and streams resume only where they run until it is back", e.FailureType);
        Connection.ConnectionRestored += (_, _) => logger.LogInformation("Redis connection restored");
    }

    /// <summary>
    /// Whether a Redis call failed on Redis's side (unreachable, slow, or refusing: a replica after a failover, loading,
    /// out of memory): the caller degrades to what one instance can do.
    /// </summary>
    public static bool IsOutage(Exception e) => e is RedisException or TimeoutException;

    public void Dispose() => Connection?.Dispose();
}
