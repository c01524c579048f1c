using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ChatSlices.Tests.Support;

/// <summary>
/// The service as a separate OS process (<c>dotnet ChatSlices.dll</c> from the test's output folder) on a free
/// loopback port, configured through environment variables, so that it can be sent real signals.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    public Uri Address { get; }

    /// <summary>Everything the process wrote to stdout and stderr so far, for a failing test to show.</summary>
    public string Output => string.Join('\n', _output);

    public int Id => _process.Id;

    private ServiceProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
    }

    /// <summary>
    /// The settings of a service on <paramref name="database"/> whose one chat model (<c>fake-gpt</c>) is served by the
    /// fake upstream at <paramref name="upstream"/>, with the tests' token issuer; callers add their own.
    /// </summary>
    public static Dictionary<string, string> WithFakeModel(string database, string upstream) => new()
    {
        ["ConnectionStrings:Postgres"] = database,
        ["Auth:SigningKey"] = Tokens.SigningKey,
        ["Auth:Issuer"] = Tokens.Issuer,
        ["Auth:Audience"] = Tokens.Audience,
        ["Logging:LogLevel:Default"] = "Warning",
        ["AI:Endpoint"] = upstream,
        ["AI:ApiKey"] = "fake-key",
        ["AI:DefaultModel"] = "fake-gpt",
        ["Models:2:Id"] = "fake-gpt",
        ["Models:2:Provider"] = "openai",
        ["Models:2:ContextWindow"] = "16000",
        ["Models:2:MaxOutputTokens"] = "4096",
    };

    /// <summary>Starts the service with <paramref name="settings"/> (configuration keys such as <c>Auth:SigningKey</c>) and waits until it is ready.</summary>
    public static async Task<ServiceProcess> StartAsync(IReadOnlyDictionary<string, string> settings)
    {
        var address = new Uri($"http://127.0.0.1:{LoopbackPort.Free()}");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory, // the content root: appsettings.json is there
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ChatSlices.dll"));
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add(address.ToString().TrimEnd('/'));
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (key, value) in settings) start.Environment[key.Replace(":", "__")] = value;

        var service = new ServiceProcess(Process.Start(start)!, address);
        service._process.OutputDataReceived += (_, e) => { if (e.Data is not null) service._output.Enqueue(e.Data); };
        service._process.ErrorDataReceived += (_, e) => { if (e.Data is not null) service._output.Enqueue(e.Data); };
        service._process.BeginOutputReadLine();
        service._process.BeginErrorReadLine();
        await service.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        return service;
    }

    public HttpClient Client()
    {
        var handler = new SocketsHttpHandler { MaxResponseDrainSize = 0, ResponseDrainTimeout = TimeSpan.Zero };
        return new HttpClient(handler) { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary>SIGTERM, as a container runtime or systemd sends it to stop the service.</summary>
    public async Task TerminateAsync()
    {
        using var kill = Process.Start("/bin/kill", ["-TERM", _process.Id.ToString()]);
        await kill.WaitForExitAsync();
        if (kill.ExitCode != 0) throw new InvalidOperationException($"kill -TERM {_process.Id} failed with {kill.ExitCode}.");
    }

    /// <summary>kill -9: the process dies at once, as in an OOM kill or a node loss.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await _process.WaitForExitAsync();
    }

    /// <summary>The exit code, or null when the process is still running after <paramref name="timeout"/>.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan timeout)
    {
        using var wait = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(wait.Token);
            return _process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    private async Task WaitUntilReadyAsync(TimeSpan timeout)
    {
        using var client = Client();
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < timeout)
        {
            if (_process.HasExited) throw new InvalidOperationException($"The service exited with {_process.ExitCode}:\n{Output}");
            try
            {
                if ((await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"The service was not ready within {timeout}:\n{Output}");
    }


    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
