using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ChatSlices.Infrastructure.Health;

/// <summary>
/// A rolling restart's first step. On SIGTERM the instance stops being ready at once (<c>/health/ready</c> 503, so a
/// gateway or an orchestrator sends new turns elsewhere) and the model calls in flight run on for up to
/// <c>Http:DrainSeconds</c>, while their readers may also resume them through another instance; then (or as soon as
/// none is left) <see cref="Stopping"/> ends the rest with <c>shutting_down</c>. With the default 0 they end at once.
/// </summary>
public sealed class Drain : IHostedService, IHealthCheck
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly TimeSpan _drain;
    private int _calls;
    private volatile bool _draining;

    public Drain(IHostApplicationLifetime lifetime, IConfiguration configuration)
    {
        _drain = TimeSpan.FromSeconds(configuration.GetValue("Http:DrainSeconds", 0.0));
        lifetime.ApplicationStopping.Register(Begin);
    }

    /// <summary>Fires when the model calls still running must end.</summary>
    public CancellationToken Stopping => _stopping.Token;

    /// <summary>A model call in flight, until the returned handle is disposed.</summary>
    public IDisposable Hold()
    {
        Interlocked.Increment(ref _calls);
        return new Call(this);
    }

    private void Begin()
    {
        _draining = true;
        if (_drain <= TimeSpan.Zero || Volatile.Read(ref _calls) == 0) _stopping.Cancel();
        else _stopping.CancelAfter(_drain);
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default) =>
        Task.FromResult(_draining ? HealthCheckResult.Unhealthy("Stopping: new turns go to another instance.") : HealthCheckResult.Healthy());

    public Task StartAsync(CancellationToken ct) => Task.CompletedTask;

    /// <summary>The host's shutdown waits here until the calls in flight are done or the drain is over.</summary>
    public async Task StopAsync(CancellationToken ct)
    {
        using var over = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token, ct);
        try
        {
            await Task.Delay(Timeout.Infinite, over.Token);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private sealed class Call(Drain drain) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 1) return;
            if (Interlocked.Decrement(ref drain._calls) == 0 && drain._draining) drain._stopping.Cancel();
        }
    }
}
