using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.RateLimiting;
using ChatSlices.Infrastructure.Redis;
using StackExchange.Redis;

namespace ChatSlices.Infrastructure.RateLimiting;

/// <summary>
/// A caller's limit kept in Redis, so that every instance counts against the same budget: one atomic Lua script per
/// acquisition (Redis's own clock, so instances' clocks do not matter). When Redis cannot be reached the limit falls
/// back to this instance's own limiter of the same shape (a warning in the log, at most one a minute): serving on with
/// per-instance limits beats refusing every request because the shared counter is away.
/// </summary>
public abstract class SharedLimiter(IDatabase redis, RateLimiter local, ILogger logger) : RateLimiter
{
    /// <summary>The start of every limit script: <c>now</c>, Redis's clock in milliseconds (instances' clocks may differ).</summary>
    internal const string NowLua = """
        local t = redis.call('TIME')
        local now = t[1] * 1000 + math.floor(t[2] / 1000)

        """;

    private static long _lastWarning;
    private long _lastUse = Stopwatch.GetTimestamp();
    private int _held;
    protected long Remaining;

    protected IDatabase Redis => redis;

    /// <summary>Redis is asked only on the asynchronous path; the middleware takes it when this synchronous attempt fails.</summary>
    protected override RateLimitLease AttemptAcquireCore(int permitCount) => Refusal.NotYet;

    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken ct)
    {
        Volatile.Write(ref _lastUse, Stopwatch.GetTimestamp());
        RateLimitLease lease;
        try
        {
            // Known to be away: no request waits for a Redis timeout to learn it again.
            lease = redis.Multiplexer.IsConnected ? await AcquireSharedAsync() : await Degraded("not connected");
        }
        catch (Exception e) when (SharedRedis.IsOutage(e))
        {
            lease = await Degraded(e.Message);
        }
        if (!lease.IsAcquired) return lease;
        Interlocked.Increment(ref _held);
        return new Counted(lease, this);
    }

    private async ValueTask<RateLimitLease> Degraded(string why)
    {
        WarnDegraded(logger, why);
        var lease = await local.AcquireAsync(1);
        Interlocked.Exchange(ref Remaining, local.GetStatistics()?.CurrentAvailablePermits ?? 0);
        return lease;
    }

    /// <summary>One script run; a lease that is or is not acquired.</summary>
    protected abstract Task<RateLimitLease> AcquireSharedAsync();

    public override RateLimiterStatistics? GetStatistics() => new() { CurrentAvailablePermits = Interlocked.Read(ref Remaining) };

    /// <summary>Idle only when nothing is held and the fallback is full too (dropping it would forgive what it counted).</summary>
    public override TimeSpan? IdleDuration =>
        Volatile.Read(ref _held) == 0 && local.IdleDuration is { } fallbackIdle
            ? TimeSpan.FromTicks(Math.Min(fallbackIdle.Ticks, Stopwatch.GetElapsedTime(Volatile.Read(ref _lastUse)).Ticks))
            : null;

    protected override void Dispose(bool disposing)
    {
        if (disposing) local.Dispose();
        base.Dispose(disposing);
    }

    // PartitionedRateLimiter drops idle partitions with DisposeAsync, which does not reach Dispose(true).
    protected override ValueTask DisposeAsyncCore() => local.DisposeAsync();

    private static void WarnDegraded(ILogger logger, string why)
    {
        var now = Stopwatch.GetTimestamp();
        var last = Interlocked.Read(ref _lastWarning);
        if (last != 0 && Stopwatch.GetElapsedTime(last, now) < TimeSpan.FromMinutes(1)) return;
        if (Interlocked.CompareExchange(ref _lastWarning, now, last) != last) return;
        logger.LogWarning("Redis is unreachable ({Error}): rate limits are per instance until it is back", why);
    }

    /// <summary>A refused lease, with the time to wait when it is known.</summary>
    protected sealed class Refusal(TimeSpan? retryAfter) : RateLimitLease
    {
        public static readonly Refusal NotYet = new(null);

        public override bool IsAcquired => false;

        public override IEnumerable<string> MetadataNames => retryAfter is null ? [] : [MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = retryAfter;
            return retryAfter is not null && metadataName == MetadataName.RetryAfter.Name;
        }
    }

    /// <summary>An acquired lease that this limiter counts until it is disposed (a limiter holding leases is not idle).</summary>
    private sealed class Counted(RateLimitLease inner, SharedLimiter owner) : RateLimitLease
    {
        private int _disposed;

        public override bool IsAcquired => true;
        public override IEnumerable<string> MetadataNames => inner.MetadataNames;
        public override bool TryGetMetadata(string metadataName, out object? metadata) => inner.TryGetMetadata(metadataName, out metadata);

        protected override void Dispose(bool disposing)
        {
            if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                inner.Dispose();
                Interlocked.Decrement(ref owner._held);
            }
            base.Dispose(disposing);
        }
    }

    /// <summary>An acquired lease that holds nothing (a token taken from a bucket is not given back).</summary>
    protected sealed class Granted : RateLimitLease
    {
        public static readonly Granted Instance = new();
        public override bool IsAcquired => true;
        public override IEnumerable<string> MetadataNames => [];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = null;
            return false;
        }
    }
}

/// <summary>Requests per minute as a token bucket in one Redis hash per caller: a minute's worth at once, refilled continuously.</summary>
public sealed class SharedTokenBucket(IDatabase redis, string subject, int perMinute, RateLimiter local, ILogger logger)
    : SharedLimiter(redis, local, logger)
{
    private const string Script = SharedLimiter.NowLua + """
        local limit = tonumber(ARGV[1])
        local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
        local tokens = tonumber(state[1]) or limit
        local at = tonumber(state[2]) or now
        tokens = math.min(limit, tokens + math.max(0, now - at) * limit / 60000)
        if tokens < 1 then return {0, 0, math.ceil((1 - tokens) * 60000 / limit)} end
        tokens = tokens - 1
        redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
        redis.call('PEXPIRE', KEYS[1], 60000)
        return {1, math.floor(tokens), 0}
        """;

    private readonly RedisKey _key = $"chatslices:limit:{{{subject}}}:requests";

    protected override async Task<RateLimitLease> AcquireSharedAsync()
    {
        var result = (RedisValue[])(await Redis.ScriptEvaluateAsync(Script, [_key], [perMinute]))!;
        Interlocked.Exchange(ref Remaining, (long)result[1]);
        return (int)result[0] == 1 ? Granted.Instance : new Refusal(TimeSpan.FromMilliseconds((long)result[2]));
    }
}

/// <summary>
/// Concurrent model calls as a Redis sorted set of leases per caller, each scored by when it lapses: a lease of an
/// instance that died frees itself after <see cref="SharedPermits.Lifetime"/>; live ones are renewed by
/// <see cref="SharedPermits"/> and removed when disposed.
/// </summary>
public sealed class SharedConcurrency(IDatabase redis, string subject, int permits, SharedPermits held, RateLimiter local, ILogger logger)
    : SharedLimiter(redis, local, logger)
{
    private const string Script = SharedLimiter.NowLua + """
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
        local used = redis.call('ZCARD', KEYS[1])
        if used >= tonumber(ARGV[1]) then return {0, 0} end
        redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        return {1, tonumber(ARGV[1]) - used - 1}
        """;

    private readonly RedisKey _key = $"chatslices:limit:{{{subject}}}:streams";

    protected override async Task<RateLimitLease> AcquireSharedAsync()
    {
        var member = Guid.NewGuid().ToString("N");
        RedisValue[] result;
        try
        {
            result = (RedisValue[])(await Redis.ScriptEvaluateAsync(Script, [_key], [permits, member, (long)SharedPermits.Lifetime.TotalMilliseconds]))!;
        }
        catch (Exception e) when (SharedRedis.IsOutage(e))
        {
            // The script may have run with its answer lost: the place it may hold is given back rather than left to lapse.
            try
            {
                Redis.SortedSetRemove(_key, member, CommandFlags.FireAndForget);
            }
            catch (Exception again) when (SharedRedis.IsOutage(again))
            {
                // Still away: the place lapses on its own.
            }
            throw;
        }
        Interlocked.Exchange(ref Remaining, (long)result[1]);
        return (int)result[0] == 1 ? held.Hold(Redis, _key, member) : new Refusal(null);
    }
}

/// <summary>
/// This instance's leases in the shared concurrency sets: renewed every third of their lifetime while held (one script
/// per caller), removed when released. A release that cannot reach Redis is left to lapse.
/// </summary>
public sealed class SharedPermits : IDisposable
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(60);

    private const string RenewScript = SharedLimiter.NowLua + """
        local lapse = now + tonumber(ARGV[1])
        for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', lapse, ARGV[i]) end
        redis.call('PEXPIRE', KEYS[1], ARGV[1])
        return 0
        """;

    private readonly ConcurrentDictionary<(RedisKey Key, string Member), IDatabase> _held = new();
    private readonly Timer _renewal;

    public SharedPermits() => _renewal = new Timer(_ => Renew(), null, Lifetime / 3, Lifetime / 3);

    internal RateLimitLease Hold(IDatabase redis, RedisKey key, string member)
    {
        _held[(key, member)] = redis;
        return new Permit(this, redis, key, member);
    }

    private void Renew()
    {
        foreach (var perKey in _held.GroupBy(h => h.Key.Key))
        {
            var redis = perKey.First().Value;
            RedisValue[] args = [(long)Lifetime.TotalMilliseconds, .. perKey.Select(h => (RedisValue)h.Key.Member)];
            try
            {
                redis.ScriptEvaluate(RenewScript, [perKey.Key], args, CommandFlags.FireAndForget);
            }
            catch (Exception)
            {
                // A timer callback must not throw (it would end the process): leases not renewed lapse in Redis.
            }
        }
    }

    public void Dispose() => _renewal.Dispose();

    private sealed class Permit(SharedPermits owner, IDatabase redis, RedisKey key, string member) : RateLimitLease
    {
        public override bool IsAcquired => true;
        public override IEnumerable<string> MetadataNames => [];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = null;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && owner._held.TryRemove((key, member), out _))
            {
                try
                {
                    redis.SortedSetRemove(key, member, CommandFlags.FireAndForget);
                }
                catch (Exception e) when (SharedRedis.IsOutage(e))
                {
                    // Left to lapse.
                }
            }
            base.Dispose(disposing);
        }
    }
}
