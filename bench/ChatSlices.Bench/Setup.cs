using System.Net;
using ChatSlices.Bench.Common;
using ChatSlices.Tests.Support;
using Npgsql;

namespace ChatSlices.Bench;

/// <summary>Set-up: the database, the fake upstream, the service, the nginx hop, the client and a quiet machine.</summary>
public sealed partial class Bench
{
    private async Task<string> EnsureDatabaseAsync(string admin)
    {
        var benchDb = await BenchDatabase.RecreateAsync(admin, Database, Log, stop);
        _pgVersion = await BenchDatabase.ShowAsync(admin, "server_version", stop);
        _syncCommit = await BenchDatabase.ShowAsync(admin, "synchronous_commit", stop);
        return benchDb;
    }

    /// <summary>The fake, the service and (when asked for) nginx, and the URL of each target.</summary>
    private async Task StartTargetsAsync(string benchDb)
    {
        // 1. The fake upstream: 64 numbered chunks, 20 ms apart (the first one too), then usage.
        _fake = new FakeUpstream();
        _fake.Script = FakeScript.Numbered(o.Chunks, Delay);
        Log($"fake upstream at {_fake.BaseUrl}: {o.Chunks} chunks, {o.DelayMs} ms apart");

        // 2. ChatSlices, published, as its own process.
        var port = Ports.Free();
        _service = StartService(port, benchDb);
        var serviceUrl = _serviceUrl = new Uri($"http://127.0.0.1:{port}");
        await PublishedService.WaitReadyAsync(_service, serviceUrl, Log, stop);
        _rssReady = Memory.ReadKb(_service.Pid, "VmRSS");

        // 3. Baselines: the fake itself, and one nginx hop when nginx is there.
        _urls[Target.Direct] = new Uri(_fake.BaseUrl + "/chat/completions");
        _targets.Add(Target.Direct);
        if (o.NginxPath is { Length: > 0 } nginxPath) await StartNginxAsync(nginxPath);
        else _nginxSkipped = "not requested (no --nginx)";
        _urls[Target.ChatSlices] = new Uri(serviceUrl, "/v1/chat/stream");
        _urls[Target.Completions] = new Uri(serviceUrl, "/v1/chat/completions");
        _targets.AddRange([Target.ChatSlices, Target.Completions]);
        if (o.CompareEnv.Count == 0) return;

        // 4. The B of an A/B: a second ChatSlices on the same database, the first one's environment plus --compare-env.
        var portB = Ports.Free();
        _serviceB = StartService(portB, benchDb, o.CompareEnv);
        var serviceUrlB = new Uri($"http://127.0.0.1:{portB}");
        await PublishedService.WaitReadyAsync(_serviceB, serviceUrlB, Log, stop);
        _urls[Target.CompletionsB] = new Uri(serviceUrlB, "/v1/chat/completions");
        _targets.Add(Target.CompletionsB);
    }

    private ChildProcess StartService(int port, string connectionString, IReadOnlyDictionary<string, string>? compareEnv = null)
    {
        var env = PublishedService.FakeModel(_fake.BaseUrl, StreamClient.Model, maxOutputTokens: 4096);
        env["Auth__SigningKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(48));
        env["ConnectionStrings__Postgres"] = connectionString;
        // Guests are limited and metered per client address (requests per minute, open streams, tokens per day).
        // Raised so that none rejects a request here, while the metering itself still runs on every turn.
        env["RateLimits__Tiers__guest__RequestsPerMinute"] = "100000000";
        env["RateLimits__Tiers__guest__ConcurrentStreams"] = "1000000";
        env["RateLimits__Tiers__guest__TokensPerDay"] = "1000000000000000";
        foreach (var (name, value) in o.ServiceEnv) env[name] = value;
        foreach (var (name, value) in compareEnv ?? new Dictionary<string, string>()) env[name] = value;
        var label = compareEnv is null ? "chatslices" : "chatslices-b";
        var child = PublishedService.Start(label, o.App, port, env, Path.Combine(o.WorkDir, $"{label}.log"), o.PidFile);
        Log($"started {label} (pid {child.Pid}) on 127.0.0.1:{port}; log {child.LogPath}");
        return child;
    }

    private async Task StartNginxAsync(string nginxPath)
    {
        var port = Ports.Free();
        var upstreamPort = new Uri(_fake.BaseUrl).Port;
        var nginx = Nginx.TryStart(nginxPath, o.WorkDir, port, upstreamPort, o.PidFile, out var problem);
        if (nginx is null)
        {
            _nginxSkipped = problem;
            Note($"nginx hop skipped: {problem}");
            return;
        }
        _nginx = nginx;
        if (!await Ports.WaitForListenerAsync(port, TimeSpan.FromSeconds(10), () => nginx.HasExited))
        {
            _nginxSkipped = "nginx did not start: " + nginx.Tail() + ReadNginxError();
            Note($"nginx hop skipped: {_nginxSkipped}");
            await nginx.StopAsync(TimeSpan.FromSeconds(5));
            return;
        }
        _urls[Target.Nginx] = new Uri($"http://127.0.0.1:{port}/v1/chat/completions");
        _targets.Add(Target.Nginx);
        Log($"nginx (pid {nginx.Pid}) on 127.0.0.1:{port} → fake");
    }

    private string ReadNginxError()
    {
        var path = Path.Combine(o.WorkDir, "nginx", "error.log");
        return File.Exists(path) ? " " + string.Join(" ", File.ReadLines(path).TakeLast(3)) : "";
    }

    private HttpClient NewHttpClient()
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 4096,
            UseProxy = false,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            AutomaticDecompression = DecompressionMethods.None,
            ConnectCallback = ConnectAsync,
        };
        return new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
    }

    private int _nextAddress;

    /// <summary>
    /// Each new connection from its own loopback source address (127.0.0.2, .3, … round robin over --guest-addresses):
    /// the service keys guests by client address, so the streams look like many guests rather than one caller whose
    /// single quota row and limiter partition every stream would share. TCP_NODELAY as the default handler sets it.
    /// </summary>
    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (o.GuestAddresses > 1)
            {
                var i = (Interlocked.Increment(ref _nextAddress) & int.MaxValue) % o.GuestAddresses;
                socket.Bind(new IPEndPoint(new IPAddress([127, 0, 0, (byte)(2 + i)]), 0));
            }
            await socket.ConnectAsync(context.DnsEndPoint, ct);
            return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Other work on these cores (a build, a test run) skews every number: wait up to --quiet-wait-seconds for the
    /// machine to be mostly idle (under 15% busy over 2 s, while the service and the fake are idle), then go on anyway.
    /// </summary>
    private async Task WaitForQuietAsync()
    {
        var deadline = Elapsed + o.QuietWaitSeconds;
        double? busy;
        var said = false;
        while ((busy = await CpuAccount.BusyFractionAsync(TimeSpan.FromSeconds(2), stop)) is > 0.15)
        {
            if (Elapsed >= deadline)
            {
                Note($"the machine was still {busy:P0} busy with other work after waiting {o.QuietWaitSeconds} s: measuring anyway, so the numbers are skewed by that load");
                break;
            }
            if (!said) Log($"the machine is {busy:P0} busy with other work: waiting up to {o.QuietWaitSeconds} s for it to calm down");
            said = true;
        }
        if (said && busy is <= 0.15) Log($"quiet now ({busy:P0} busy)");
        _loadStart = Machine.LoadAverage();
    }

    private async Task<string> StoredRepliesAsync(string benchDb)
    {
        try
        {
            await using var conn = new NpgsqlConnection(benchDb);
            await conn.OpenAsync(stop);
            await using var cmd = new NpgsqlCommand("SELECT role, status, count(*) FROM chat_messages GROUP BY 1, 2 ORDER BY 1, 2", conn);
            await using var reader = await cmd.ExecuteReaderAsync(stop);
            var parts = new List<string>();
            while (await reader.ReadAsync(stop)) parts.Add($"{reader.GetString(0)}/{reader.GetString(1)}: {reader.GetInt64(2)}");
            return parts.Count == 0 ? "none" : string.Join(", ", parts);
        }
        catch (NpgsqlException e)
        {
            return $"not counted ({e.Message})";
        }
    }
}
