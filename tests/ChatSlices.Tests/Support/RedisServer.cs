using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ChatSlices.Tests.Support;

/// <summary>
/// A redis-server of the test's own (Debian's, installed by run.sh), on a free loopback port, with nothing saved to
/// disk, so that a test may stop and restart it without touching anyone else's.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private Process? _process;

    public int Port { get; } = LoopbackPort.Free();

    /// <summary>The StackExchange.Redis configuration string the service takes (<c>Redis:Connection</c>).</summary>
    public string Connection => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync()
    {
        var server = new RedisServer();
        await server.RestartAsync();
        return server;
    }

    /// <summary>Starts it again on the same port (empty: nothing was saved).</summary>
    public async Task RestartAsync()
    {
        var start = new ProcessStartInfo("redis-server") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "--bind", "127.0.0.1", "--port", Port.ToString(), "--save", "", "--appendonly", "no", "--dir", Path.GetTempPath() })
            start.ArgumentList.Add(arg);
        _process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start: run the tests through ./test.sh.");
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var process = _process;
        if (await LoopbackPort.WaitListeningAsync(Port, TimeSpan.FromSeconds(10), () => process.HasExited)) return;
        throw new TimeoutException($"redis-server did not listen on {Port}.");
    }

    /// <summary>Kills it at once, as a crash or a node loss would.</summary>
    public async Task StopAsync()
    {
        if (_process is null || _process.HasExited) return;
        _process.Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
        _process = null;
    }


    public async ValueTask DisposeAsync() => await StopAsync();
}
