using ChatSlices.Infrastructure.Database;
using Dapper;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace ChatSlices.Infrastructure.Health;

public static class HealthSetup
{
    private const string Ready = "ready";

    public static IServiceCollection AddChatSlicesHealth(this IServiceCollection services)
    {
        services.AddSingleton<Drain>();
        services.AddHostedService(sp => sp.GetRequiredService<Drain>());
        services.AddHealthChecks()
            .AddCheck<DatabaseHealthCheck>("database", tags: [Ready], timeout: TimeSpan.FromSeconds(5))
            .AddCheck<Drain>("draining", tags: [Ready]);
        return services;
    }

    public static IEndpointRouteBuilder MapChatSlicesHealth(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/health").WithTags("Operations");
        group.MapHealthChecks("/live", new HealthCheckOptions { Predicate = _ => false });
        group.MapHealthChecks("/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains(Ready) });
        return app;
    }
}

/// <summary>Ready means: PostgreSQL answers and every migration this build knows has been applied.</summary>
public sealed class DatabaseHealthCheck(NpgsqlDataSource db) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        try
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            // A newer instance may have applied migrations this build does not know: that keeps this one ready (rolling deploys).
            var missing = await conn.QueryAsync<int>(new CommandDefinition(
                "SELECT v FROM unnest(@Versions) AS v WHERE v NOT IN (SELECT version FROM schema_migrations) ORDER BY v",
                new { Versions = Migrator.All.Select(m => m.Version).ToArray() }, cancellationToken: ct));
            return missing.AsList() is { Count: > 0 } pending
                ? HealthCheckResult.Unhealthy($"Migrations pending: {string.Join(", ", pending)}.")
                : HealthCheckResult.Healthy();
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy("Database unreachable.");
        }
    }
}
