using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ChatSlices.Bench.Common;

/// <summary>
/// A process the bench started (the published service, nginx): its output goes to a log file; <see cref="StopAsync"/>
/// asks it to stop (SIGTERM), then kills it (and only it, with its own children) if it has not stopped in time.
/// Every child started is remembered until it is disposed: <see cref="StopAllAsync"/> stops those left when the bench ends,
/// and a process-exit handler kills them if the bench is torn down without that.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private static readonly List<ChildProcess> Started = [];
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly Queue<string> _tail = new();
    private readonly Lock _gate = new();
    private bool _disposed;

    static ChildProcess()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            lock (Started) foreach (var child in Started) child.KillNow();
        };
    }

    public string Name { get; }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;
    public string LogPath { get; }

    private ChildProcess(string name, Process process, string logPath)
    {
        Name = name;
        _process = process;
        LogPath = logPath;
        _log = new StreamWriter(logPath, append: false) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => Write(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>
    /// Starts <paramref name="info"/>, its output to <paramref name="logPath"/>; with <paramref name="pidFile"/>, appends
    /// "PID NAME" to it, so that the calling script can stop the process should the bench itself be killed.
    /// </summary>
    public static ChildProcess Start(string name, ProcessStartInfo info, string logPath, string? pidFile = null)
    {
        info.UseShellExecute = false;
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.RedirectStandardInput = false;
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {name}");
        var child = new ChildProcess(name, process, logPath);
        lock (Started) Started.Add(child);
        if (pidFile is not null) File.AppendAllText(pidFile, $"{child.Pid} {name}\n");
        return child;
    }

    /// <summary>Stops every child still running, the last started first.</summary>
    public static async Task StopAllAsync()
    {
        List<ChildProcess> children;
        lock (Started) children = [.. Started];
        foreach (var child in Enumerable.Reverse(children)) await child.DisposeAsync();
    }

    private void Write(string? line)
    {
        if (line is null) return;
        lock (_gate)
        {
            if (_disposed) return;
            _log.WriteLine(line);
            _tail.Enqueue(line);
            while (_tail.Count > 20) _tail.Dequeue();
        }
    }

    public string Tail()
    {
        lock (_gate) return string.Join('\n', _tail);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    private const int SigTerm = 15;

    public async Task StopAsync(TimeSpan grace)
    {
        try
        {
            if (_process.HasExited) return;
            _ = kill(_process.Id, SigTerm);
            using var wait = new CancellationTokenSource(grace);
            try
            {
                await _process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine($"[bench] {Name} (pid {_process.Id}) did not stop within {grace.TotalSeconds:0} s: killing it");
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
            // never started or already reaped
        }
    }

    /// <summary>Last-resort stop from a process-exit handler: no waiting for a graceful end.</summary>
    public void KillNow()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        lock (Started)
            if (!Started.Remove(this)) return; // disposed already
        await StopAsync(TimeSpan.FromSeconds(15));
        lock (_gate)
        {
            _disposed = true;
            _log.Dispose();
        }
        _process.Dispose();
    }
}
