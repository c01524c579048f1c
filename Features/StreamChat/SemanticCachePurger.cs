using Npgsql;

namespace ChatSlices.Features.StreamChat;

/// <summary>Purges expired cache entries every few minutes (lookups ignore them meanwhile).</summary>
public sealed class SemanticCachePurger(SemanticCache cache, ILogger<SemanticCachePurger> logger) : BackgroundService
{
    private static readonly TimeSpan Every = TimeSpan.FromMinutes(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Every);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var purged = await cache.PurgeExpiredAsync(stoppingToken);
                if (purged > 0) logger.LogInformation("Purged {Count} expired semantic cache entries", purged);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                logger.LogWarning(e, "Purging the semantic cache failed; trying again later");
            }
        }
    }
}
