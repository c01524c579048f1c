using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace ChatSlices.Bench;

/// <summary>
/// A process the bench started (the published service, nginx): its output goes to a log file; <see cref="StopAsync"/>
/// asks it to stop (SIGTERM), then kills it (and only it, with its own children) if it has not stopped in time.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly Queue<string> _tail = new();
    private readonly Lock _gate = new();

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

    public static ChildProcess Start(string name, ProcessStartInfo info, string logPath)
    {
        info.UseShellExecute = false;
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.RedirectStandardInput = false;
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {name}");
        return new ChildProcess(name, process, logPath);
    }

    private void Write(string? line)
    {
        if (line is null) return;
        lock (_gate)
        {
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
        await StopAsync(TimeSpan.FromSeconds(15));
        lock (_gate) _log.Dispose();
        _process.Dispose();
    }
}

public static class Ports
{
    /// <summary>A loopback port that was free a moment ago.</summary>
    public static int Free()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public static async Task<bool> WaitForListenerAsync(int port, TimeSpan timeout, Func<bool> gaveUp)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline && !gaveUp())
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return true;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }
        return false;
    }
}

/// <summary>Resident memory of a process, from <c>/proc/PID/status</c> (kB).</summary>
public static class Memory
{
    public static long? ReadKb(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (!line.StartsWith(field + ":", StringComparison.Ordinal)) continue;
                var digits = new string(line.AsSpan(field.Length + 1).ToArray().Where(char.IsDigit).ToArray());
                return long.TryParse(digits, out var kb) ? kb : null;
            }
        }
        catch (IOException)
        {
        }
        return null;
    }

    /// <summary>User + system CPU time of a process so far, in ms (from <c>/proc/PID/stat</c>, 10 ms resolution).</summary>
    public static double? CpuMs(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(rest[11]) + long.Parse(rest[12])) * 10.0; // USER_HZ = 100
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>Resets the peak (VmHWM) to the current RSS (Linux 4.0+: <c>echo 5 &gt; /proc/PID/clear_refs</c>).</summary>
    public static bool ResetPeak(int pid)
    {
        try
        {
            File.WriteAllText($"/proc/{pid}/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Samples VmRSS every <paramref name="every"/> until stopped; returns the largest value seen (kB).</summary>
    public static async Task<long> SampleMaxAsync(int pid, TimeSpan every, CancellationToken stop)
    {
        long max = 0;
        while (!stop.IsCancellationRequested)
        {
            if (ReadKb(pid, "VmRSS") is { } rss && rss > max) max = rss;
            try
            {
                await Task.Delay(every, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        if (ReadKb(pid, "VmRSS") is { } last && last > max) max = last;
        return max;
    }
}

/// <summary>One plain nginx hop in front of the fake: <c>proxy_pass</c> with <c>proxy_buffering off</c>, keep-alive upstream.</summary>
public static class Nginx
{
    public static ChildProcess? TryStart(string nginxPath, string workDir, int listenPort, int upstreamPort, out string? problem)
    {
        problem = null;
        if (!File.Exists(nginxPath))
        {
            problem = $"{nginxPath} not found";
            return null;
        }
        var dir = Path.Combine(workDir, "nginx");
        Directory.CreateDirectory(dir);
        foreach (var temp in new[] { "client_body", "proxy", "fastcgi", "uwsgi", "scgi" }) Directory.CreateDirectory(Path.Combine(dir, temp));
        var user = Environment.UserName == "root" ? "user root;\n" : "";
        var conf = $$"""
            {{user}}worker_processes auto;
            pid {{dir}}/nginx.pid;
            error_log {{dir}}/error.log warn;
            events { worker_connections 8192; }
            http {
                access_log off;
                client_body_temp_path {{dir}}/client_body;
                proxy_temp_path {{dir}}/proxy;
                fastcgi_temp_path {{dir}}/fastcgi;
                uwsgi_temp_path {{dir}}/uwsgi;
                scgi_temp_path {{dir}}/scgi;
                keepalive_requests 100000;
                upstream fake { server 127.0.0.1:{{upstreamPort}}; keepalive 1024; keepalive_requests 100000; }
                server {
                    listen 127.0.0.1:{{listenPort}};
                    location / {
                        proxy_pass http://fake;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_buffering off;
                    }
                }
            }
            """;
        var confPath = Path.Combine(dir, "nginx.conf");
        File.WriteAllText(confPath, conf);
        var info = new ProcessStartInfo(nginxPath)
        {
            ArgumentList = { "-p", dir + "/", "-c", confPath, "-e", Path.Combine(dir, "error.log"), "-g", "daemon off; master_process on;" },
        };
        try
        {
            return ChildProcess.Start("nginx", info, Path.Combine(dir, "stdout.log"));
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            problem = e.Message;
            return null;
        }
    }
}
