using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Redis;
using ChatSlices.Infrastructure.Telemetry;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace ChatSlices.Infrastructure.RateLimiting;

/// <summary>
/// Marks the routes that hold a model call open (streamed or not): their requests count against a tier's concurrent
/// streams.
/// </summary>
public sealed class ModelCallRoute;

/// <summary>
/// ASP.NET Core's rate limiter, partitioned per caller: a token bucket for requests per minute on every limited route,
/// chained with a concurrency limit on streaming routes. With <c>Redis:Connection</c> set both are kept in Redis and hold
/// across instances (<see cref="SharedLimiter"/>); without it they are per instance. The daily token quota is
/// <see cref="TokenQuota"/> in PostgreSQL either way.
/// </summary>
public static class RateLimitSetup
{
    private const string RequestsPolicy = "requests";

    public static IServiceCollection AddChatSlicesRateLimiting(this IServiceCollection services)
    {
        services.AddOptions<RateLimitSettings>().BindConfiguration(RateLimitSettings.Section)
            .Validate(s => s.Tiers.Values.All(t => t.RequestsPerMinute is null or > 0 && t.ConcurrentStreams is null or > 0 && t.TokensPerDay is null or >= 0
                    && t.UploadsPerDay is null or >= 0 && t.UploadBytesPerDay is null or >= 0),
                "RateLimits:Tiers: RequestsPerMinute and ConcurrentStreams must be positive, TokensPerDay, UploadsPerDay and UploadBytesPerDay at least 0 (leave a limit out for none).")
            .ValidateOnStart();
        services.AddSingleton<TokenQuota>();
        services.AddSingleton<UploadQuota>();
        services.AddSingleton<SharedPermits>();
        services.AddSingleton(sp => new CallerLimiters(sp.GetRequiredService<IOptions<RateLimitSettings>>().Value,
            sp.GetRequiredService<SharedRedis>().Connection?.GetDatabase(), sp.GetRequiredService<SharedPermits>(),
            sp.GetRequiredService<ILogger<SharedLimiter>>()));
        services.AddOptions<RateLimiterOptions>().Configure<CallerLimiters>((options, limiters) =>
        {
            options.GlobalLimiter = PartitionedRateLimiter.CreateChained(limiters.Requests, limiters.Streams);
            options.OnRejected = RejectAsync;
        });
        services.AddRateLimiter(_ => { });
        return services;
    }

    /// <summary>The client address comes from X-Forwarded-For only when the direct peer is a configured trusted proxy.</summary>
    public static IApplicationBuilder UseTrustedForwardedHeaders(this IApplicationBuilder app, IConfiguration configuration)
    {
        var proxies = (configuration.GetSection("Http:TrustedProxies").Get<string[]>() ?? [])
            .Select(p => IPAddress.TryParse(p, out var address) ? address : throw new InvalidOperationException($"Http:TrustedProxies holds '{p}', not an IP address."))
            .ToList();
        // With no proxy listed the middleware must not run at all: emptied lists would make it trust every peer.
        if (proxies.Count == 0) return app;
        var options = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto };
        options.KnownIPNetworks.Clear(); // the default trusts loopback
#pragma warning disable ASPDEPR005 // the obsolete list is still consulted
        options.KnownNetworks.Clear();
#pragma warning restore ASPDEPR005
        options.KnownProxies.Clear();
        foreach (var proxy in proxies) options.KnownProxies.Add(proxy);
        return app.UseForwardedHeaders(options);
    }

    /// <summary>Limits, then tells every limited response its remaining budget (IETF RateLimit header).</summary>
    public static IApplicationBuilder UseChatSlicesRateLimiting(this IApplicationBuilder app)
    {
        app.UseRateLimiter();
        return app.Use((http, next) =>
        {
            var limiters = http.RequestServices.GetRequiredService<CallerLimiters>();
            if (limiters.Policy(http) is { } policy)
            {
                http.Response.Headers["RateLimit-Policy"] = policy.PolicyHeader;
                http.Response.Headers["RateLimit"] = policy.RemainingHeader(limiters.Requests.GetStatistics(http)?.CurrentAvailablePermits ?? 0);
            }
            return next(http);
        });
    }

    private static async ValueTask RejectAsync(OnRejectedContext context, CancellationToken ct)
    {
        var http = context.HttpContext;
        var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
        var limiters = http.RequestServices.GetRequiredService<CallerLimiters>();
        if (limiters.Policy(http) is { } policy)
        {
            http.Response.Headers["RateLimit-Policy"] = policy.PolicyHeader;
            http.Response.Headers["RateLimit"] = policy.RemainingHeader(0, retryAfter);
        }
        http.RequestServices.GetRequiredService<ChatMetrics>().Refused("rate_limited", Caller.Of(http).Tier);
        var failure = new Failure(StatusCodes.Status429TooManyRequests, "Too many requests for your tier; retry after the time in Retry-After.", "rate_limited")
        {
            RetryAfterSeconds = retryAfter,
        };
        await failure.ToResult().ExecuteAsync(http);
    }

    /// <summary>The limiters, one partition per caller, built from the tier settings.</summary>
    /// <param name="redis">Null: the limits are this instance's own.</param>
    public sealed class CallerLimiters(RateLimitSettings settings, IDatabase? redis, SharedPermits permits, ILogger<SharedLimiter> logger)
    {
        public sealed record RequestPolicy(int PerMinute)
        {
            public string PolicyHeader => $"\"{RequestsPolicy}\";q={PerMinute};w=60";

            public string RemainingHeader(long remaining, int? reset = null) =>
                $"\"{RequestsPolicy}\";r={Math.Max(0, remaining).ToString(CultureInfo.InvariantCulture)};t={reset ?? 60}";
        }

        public PartitionedRateLimiter<HttpContext> Requests { get; } = PartitionedRateLimiter.Create<HttpContext, string>(http =>
        {
            var caller = Caller.Of(http);
            if (settings.For(caller.Tier)?.RequestsPerMinute is not { } perMinute || !Limited(http)) return RateLimitPartition.GetNoLimiter("unlimited");
            return redis is null
                ? RateLimitPartition.GetTokenBucketLimiter(caller.Subject, _ => Bucket(perMinute))
                : RateLimitPartition.Get(caller.Subject, subject => new SharedTokenBucket(redis, subject, perMinute, new TokenBucketRateLimiter(Bucket(perMinute)), logger));
        });

        public PartitionedRateLimiter<HttpContext> Streams { get; } = PartitionedRateLimiter.Create<HttpContext, string>(http =>
        {
            var caller = Caller.Of(http);
            if (settings.For(caller.Tier)?.ConcurrentStreams is not { } streams || http.GetEndpoint()?.Metadata.GetMetadata<ModelCallRoute>() is null)
                return RateLimitPartition.GetNoLimiter("unlimited");
            var options = new ConcurrencyLimiterOptions { PermitLimit = streams, QueueLimit = 0 };
            return redis is null
                ? RateLimitPartition.GetConcurrencyLimiter(caller.Subject, _ => options)
                : RateLimitPartition.Get(caller.Subject, subject => new SharedConcurrency(redis, subject, streams, permits, new ConcurrencyLimiter(options), logger));
        });

        public RequestPolicy? Policy(HttpContext http) =>
            Limited(http) && settings.For(Caller.Of(http).Tier)?.RequestsPerMinute is { } perMinute ? new RequestPolicy(perMinute) : null;

        /// <summary>The API routes; health, OpenAPI and Scalar stay outside the limits.</summary>
        private static bool Limited(HttpContext http) => http.Request.Path.StartsWithSegments("/v1");

        /// <summary>A minute's worth of requests at once, refilled one token every 1/perMinute of a minute (90 a minute: one each 667 ms).</summary>
        private static TokenBucketRateLimiterOptions Bucket(int perMinute) => new()
        {
            TokenLimit = perMinute,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = TimeSpan.FromMinutes(1) / perMinute,
            QueueLimit = 0,
            AutoReplenishment = true,
        };
    }
}
