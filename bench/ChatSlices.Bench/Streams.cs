using System.Text.RegularExpressions;
using ChatSlices.Bench.Common;
using ChatSlices.Tests.Support;

namespace ChatSlices.Bench;

/// <summary>Streams to the targets, shared by the benchmarks: one, a burst, the fake's side of them, and the warm-up.</summary>
public sealed partial class Bench
{
    private static readonly TimeSpan StreamTimeout = TimeSpan.FromSeconds(60);
    private long _marker;

    private string NextMarker() => $"benchq{Interlocked.Increment(ref _marker)}z";

    [GeneratedRegex(@"benchq\d+z")]
    private static partial Regex MarkerPattern();

    private Task<StreamResult> OneAsync(Target target)
    {
        stop.ThrowIfCancellationRequested();
        return _client.RunAsync(target, _urls[target], NextMarker(), StreamTimeout, stop);
    }

    private async Task<List<StreamResult>> BurstAsync(Target target, int count)
    {
        var tasks = new Task<StreamResult>[count];
        for (var i = 0; i < count; i++) tasks[i] = OneAsync(target);
        var results = await Task.WhenAll(tasks);
        stop.ThrowIfCancellationRequested();
        return [.. results];
    }

    /// <summary>Takes every request the fake recorded since the last call, by the marker in its body.</summary>
    private Dictionary<string, FakeRequest> DrainFake()
    {
        var map = new Dictionary<string, FakeRequest>();
        while (_fake.Requests.TryDequeue(out var request))
            if (MarkerPattern().Match(request.Body.ToJsonString()) is { Success: true } m) map[m.Value] = request;
        return map;
    }

    private async Task WarmUpAsync()
    {
        var burstSize = o.Concurrencies.Max();
        Log($"warm-up: {o.Warmup} sequential and one burst of {burstSize} per target");
        foreach (var target in _targets)
        {
            for (var i = 0; i < o.Warmup; i++)
            {
                var r = await OneAsync(target);
                if (!r.Ok) throw new BenchFailed($"warm-up stream to {target} failed: {r.Error}\n{(target.IsService() ? ServiceOf(target).Tail() : "")}");
            }
            var burst = await BurstAsync(target, burstSize);
            var failed = burst.Count(r => !r.Ok);
            if (failed > 0) Note($"warm-up burst to {target}: {failed} of {burst.Count} streams failed (first: {burst.First(r => !r.Ok).Error})");
        }
        DrainFake();
    }
}
