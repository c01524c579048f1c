using System.Diagnostics;
using System.Net;

namespace ChatSlices.Bench.Common;

/// <summary>The service under test: the Release publish (<c>ChatSlices.dll</c>) run as its own process on a loopback port.</summary>
public static class PublishedService
{
    /// <summary>
    /// Starts <c>dotnet APP --urls http://127.0.0.1:PORT</c> in the publish directory. The inherited environment loses its
    /// <c>ASPNETCORE_*</c>, <c>AI__*</c>, <c>Models__*</c>, <c>RateLimits__*</c> and proxy variables, so that only
    /// <paramref name="env"/> (added on top, with production defaults first) configures the service.
    /// </summary>
    public static ChildProcess Start(string name, string app, int port, IReadOnlyDictionary<string, string> env, string logPath, string? pidFile)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(Path.GetFullPath(app))!,
            ArgumentList = { app, "--urls", $"http://127.0.0.1:{port}" },
        };
        string[] prefixes = ["ASPNETCORE_", "AI__", "Models__", "RateLimits__"];
        foreach (var key in info.Environment.Keys.Where(k => prefixes.Any(p => k.StartsWith(p, StringComparison.Ordinal))
                                                             || k.Contains("proxy", StringComparison.OrdinalIgnoreCase)).ToList())
            info.Environment.Remove(key);
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (k, v) in env) info.Environment[k] = v;
        return ChildProcess.Start(name, info, logPath, pidFile);
    }

    /// <summary>
    /// The service's settings for one OpenAI-compatible chat model served by the fake upstream at <paramref name="endpoint"/>:
    /// the default model, as entry 2 of the model catalogue (provider <c>openai</c>, a 16,000-token context window).
    /// </summary>
    public static Dictionary<string, string> FakeModel(string endpoint, string model, int maxOutputTokens) => new()
    {
        ["AI__Endpoint"] = endpoint,
        ["AI__ApiKey"] = "x",
        ["AI__DefaultModel"] = model,
        ["Models__2__Id"] = model,
        ["Models__2__Provider"] = "openai",
        ["Models__2__ContextWindow"] = "16000",
        ["Models__2__MaxOutputTokens"] = maxOutputTokens.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>Waits up to 90 s for <c>GET /health/ready</c> to answer 200; fails early when the service exits.</summary>
    public static async Task WaitReadyAsync(ChildProcess service, Uri serviceUrl, Action<string> log, CancellationToken stop)
    {
        using var probe = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.GetTimestamp() + 90 * Stopwatch.Frequency;
        var last = "no answer";
        while (Stopwatch.GetTimestamp() < deadline)
        {
            stop.ThrowIfCancellationRequested();
            if (service.HasExited) throw new BenchFailed($"ChatSlices exited during start-up:\n{service.Tail()}");
            try
            {
                using var response = await probe.GetAsync(new Uri(serviceUrl, "/health/ready"), stop);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    log("ChatSlices is ready");
                    return;
                }
                last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(stop)}";
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!stop.IsCancellationRequested)
            {
            }
            await Task.Delay(200, stop);
        }
        throw new BenchFailed($"ChatSlices was not ready within 90 s (last /health/ready answer: {last}); its log: {service.LogPath}");
    }
}
