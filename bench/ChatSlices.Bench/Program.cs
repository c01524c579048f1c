using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using ChatSlices.Tests.Support;
using Npgsql;

namespace ChatSlices.Bench;

/// <summary>Command-line options; bench/run.sh passes them.</summary>
public sealed class Options
{
    public string App { get; set; } = "";
    public string? Out { get; set; }
    public string? Json { get; set; }
    public string? NginxPath { get; set; }
    public string WorkDir { get; set; } = "";
    public string? PidFile { get; set; }
    public int Runs { get; set; } = 3;
    public int Sequential { get; set; } = 10;
    public int Warmup { get; set; } = 5;
    public int[] Concurrencies { get; set; } = [64, 256];
    public int ConcurrentRounds { get; set; } = 1;
    public int IntegrityStreams { get; set; } = 512;
    public int[] MoreStreams { get; set; } = [1024, 2048];
    public int ThroughputSeconds { get; set; } = 4;
    public int ThroughputConcurrency { get; set; } = 64;
    public int Chunks { get; set; } = 64;
    public int DelayMs { get; set; } = 20;
    public int BudgetSeconds { get; set; } = 360;
    public int QuietWaitSeconds { get; set; } = 60;
    public int GuestAddresses { get; set; } = 250;
    public string Command { get; set; } = "bench/run.sh";
    public string Git { get; set; } = "unknown";

    public static Options Parse(string[] args)
    {
        var o = new Options();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int NextInt() => int.Parse(Next(), CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--app": o.App = Next(); break;
                case "--out": o.Out = Next(); break;
                case "--json": o.Json = Next(); break;
                case "--nginx": o.NginxPath = Next(); break;
                case "--workdir": o.WorkDir = Next(); break;
                case "--pidfile": o.PidFile = Next(); break;
                case "--runs": o.Runs = NextInt(); break;
                case "--sequential": o.Sequential = NextInt(); break;
                case "--warmup": o.Warmup = NextInt(); break;
                case "--concurrency": o.Concurrencies = Ints(Next()); break;
                case "--more-streams": o.MoreStreams = Ints(Next()); break;
                case "--throughput-seconds": o.ThroughputSeconds = NextInt(); break;
                case "--throughput-concurrency": o.ThroughputConcurrency = NextInt(); break;
                case "--rounds": o.ConcurrentRounds = NextInt(); break;
                case "--integrity-streams": o.IntegrityStreams = NextInt(); break;
                case "--chunks": o.Chunks = NextInt(); break;
                case "--delay-ms": o.DelayMs = NextInt(); break;
                case "--budget-seconds": o.BudgetSeconds = NextInt(); break;
                case "--quiet-wait-seconds": o.QuietWaitSeconds = NextInt(); break;
                case "--guest-addresses": o.GuestAddresses = Math.Clamp(NextInt(), 1, 250); break;
                case "--command": o.Command = Next(); break;
                case "--git": o.Git = Next(); break;
                case "--quick":
                    o.Runs = 1; o.Sequential = 4; o.Warmup = 2; o.Concurrencies = [32]; o.ConcurrentRounds = 1; o.IntegrityStreams = 64;
                    o.MoreStreams = [128]; o.ThroughputSeconds = 2; o.ThroughputConcurrency = 16;
                    break;
                default: throw new ArgumentException($"unknown argument {args[i]}");
            }
        }
        if (o.Concurrencies.Length == 0) throw new ArgumentException("--concurrency needs at least one level");
        if (o.App.Length == 0 || !File.Exists(o.App)) throw new ArgumentException("--app must name the published ChatSlices.dll");
        if (o.WorkDir.Length == 0) o.WorkDir = Directory.CreateTempSubdirectory("chatslices-bench.").FullName;
        return o;
    }

    private static int[] Ints(string list) => [.. list.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(v => int.Parse(v, CultureInfo.InvariantCulture))];
}

public static partial class Program
{
    public const string BenchDatabase = "chatslices_bench";

    private static readonly List<ChildProcess> Children = [];

    public static async Task<int> Main(string[] args)
    {
        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            Console.Error.WriteLine($"[bench] {e.Message}");
            Console.Error.WriteLine("usage: ChatSlices.Bench --app PUBLISHED/ChatSlices.dll [--out BENCHMARKS.md] [--nginx /usr/sbin/nginx] [--runs 3] [--sequential 30] [--concurrency 64,256] [--rounds 2] [--integrity-streams 512] [--more-streams 1024,2048] [--throughput-seconds 5] [--json results.json] [--quick]");
            return 2;
        }

        using var stop = new CancellationTokenSource();
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            lock (Children) foreach (var child in Children) child.KillNow();
        };
        try
        {
            return await new Bench(options, stop.Token).RunAsync();
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            Console.Error.WriteLine("[bench] stopped");
            return 130;
        }
        catch (BenchFailed e)
        {
            Console.Error.WriteLine($"[bench] FAILED: {e.Message}");
            return 1;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"[bench] FAILED: {e}");
            return 1;
        }
        finally
        {
            List<ChildProcess> children;
            lock (Children) children = [.. Children];
            foreach (var child in Enumerable.Reverse(children)) await child.DisposeAsync();
        }
    }

    public static void Track(ChildProcess child, string? pidFile)
    {
        lock (Children) Children.Add(child);
        if (pidFile is not null) File.AppendAllText(pidFile, $"{child.Pid} {child.Name}\n");
    }
}

public sealed class BenchFailed(string message) : Exception(message);

/// <summary>One target in one run of the non-streaming throughput phase.</summary>
public sealed record ThroughputStats(int Requests, int Failed, string? FirstError, double PerSecond, double P50Ms, double P99Ms);

/// <summary>One benchmark run: the fake, the service, the phases, the report.</summary>
public sealed partial class Bench(Options o, CancellationToken stop)
{
    private readonly long _startedAt = Stopwatch.GetTimestamp();
    private readonly DateTimeOffset _date = DateTimeOffset.UtcNow;
    private readonly List<string> _notes = [];
    private long _marker;
    private TimeSpan Delay => TimeSpan.FromMilliseconds(o.DelayMs);
    private static readonly TimeSpan StreamTimeout = TimeSpan.FromSeconds(60);

    private FakeUpstream _fake = null!;
    private StreamClient _client = null!;
    private readonly Dictionary<Target, Uri> _urls = [];
    private readonly List<Target> _targets = [];
    private ChildProcess _service = null!;
    private ChildProcess? _nginx;
    private CpuAccount? _cpu;
    private (double Ours, double Others, double Wall)? _cpuUse;

    // Results
    private readonly List<Dictionary<Target, TargetStats>> _sequential = [];
    private readonly Dictionary<int, List<Dictionary<Target, TargetStats>>> _concurrent = [];
    private readonly List<Dictionary<Target, ThroughputStats>> _throughput = [];

    /// <summary>The service's CPU time per ChatSlices stream, per run of each phase (ms).</summary>
    private readonly Dictionary<string, List<double>> _serviceCpuPerStream = [];

    private void AddServiceCpu(string phase, double? before, double? after, int streams)
    {
        if (before is null || after is null || streams == 0) return;
        if (!_serviceCpuPerStream.TryGetValue(phase, out var list)) _serviceCpuPerStream[phase] = list = [];
        list.Add((after.Value - before.Value) / streams);
    }

    private double? ServiceCpu() => Memory.CpuMs(_service.Pid);
    private readonly List<IntegrityRun> _integrity = [];
    private readonly List<IntegrityRun> _moreStreams = [];
    private long? _rssReady, _rssBeforeIntegrity;
    private string _pgVersion = "?", _syncCommit = "?", _loadStart = "?", _loadEnd = "?", _stored = "?";
    private string? _nginxSkipped;

    private sealed record IntegrityRun(int Streams, Integrity Check, TargetStats Stats, Integrity DirectCheck, TargetStats Direct,
        long? RssBefore, long SampledPeak, long? Hwm, long? RssAfter, double Seconds)
    {
        public long PeakKb => Math.Max(SampledPeak, Hwm ?? 0);

        /// <summary>Every chunk there once and in order, and no gap between two chunks over 200 ms (a stall).</summary>
        public bool Clean => Check.Intact == Check.Streams && Check.LongestGapMs <= MaxGapMs;
    }

    private const double MaxGapMs = 200;

    private long _measuringSince;
    private double Elapsed => Stopwatch.GetElapsedTime(_startedAt).TotalSeconds;
    private bool OverBudget(string phase)
    {
        if (Stopwatch.GetElapsedTime(_measuringSince).TotalSeconds < o.BudgetSeconds) return false;
        Note($"time budget for the measurements ({o.BudgetSeconds} s) used up: {phase} skipped");
        return true;
    }

    private void Note(string text)
    {
        _notes.Add(text);
        Log(text);
    }

    private void Log(string text) => Console.Error.WriteLine($"[bench {Elapsed,6:0.0}s] {text}");

    public async Task<int> RunAsync()
    {
        var admin = Environment.GetEnvironmentVariable("ConnectionStrings__Postgres");
        if (string.IsNullOrEmpty(admin)) throw new BenchFailed("ConnectionStrings__Postgres is not set (eval \"$(./run.sh --setup-only)\")");
        var benchDb = await EnsureDatabaseAsync(admin);

        // 1. The fake upstream: 64 numbered chunks, 20 ms apart (the first one too), then usage.
        _fake = new FakeUpstream();
        _fake.Script = FakeScript.Numbered(o.Chunks, Delay);
        Log($"fake upstream at {_fake.BaseUrl}: {o.Chunks} chunks, {o.DelayMs} ms apart");

        // 2. ChatSlices, published, as its own process.
        var port = Ports.Free();
        _service = StartService(port, benchDb);
        var serviceUrl = new Uri($"http://127.0.0.1:{port}");
        await WaitReadyAsync(serviceUrl);
        _rssReady = Memory.ReadKb(_service.Pid, "VmRSS");

        // 3. Baselines: the fake itself, and one nginx hop when nginx is there.
        _urls[Target.Direct] = new Uri(_fake.BaseUrl + "/chat/completions");
        _targets.Add(Target.Direct);
        if (o.NginxPath is { Length: > 0 } nginxPath) await StartNginxAsync(nginxPath);
        else _nginxSkipped = "not requested (no --nginx)";
        _urls[Target.ChatSlices] = new Uri(serviceUrl, "/v1/chat/stream");
        _urls[Target.Completions] = new Uri(serviceUrl, "/v1/chat/completions");
        _targets.AddRange([Target.ChatSlices, Target.Completions]);

        using var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 4096,
            UseProxy = false,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            AutomaticDecompression = DecompressionMethods.None,
            ConnectCallback = ConnectAsync,
        };
        using var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _client = new StreamClient(http);

        await WaitForQuietAsync();
        _cpu = CpuAccount.Start(); // count from here: the measured phases
        _measuringSince = Stopwatch.GetTimestamp();
        await WarmUpAsync();
        await SequentialAsync();
        await ConcurrentAsync();
        await IntegrityAsync();
        await MoreStreamsAsync();
        await ThroughputAsync();

        _stored = await StoredRepliesAsync(benchDb);
        _loadEnd = ReadLoad();
        var self = Environment.ProcessId;
        _cpuUse = _cpu?.Stop(p => p.Pid == self || p.Pid == _service.Pid || (_nginx is { } n && (p.Pid == n.Pid || p.ParentPid == n.Pid)) || p.Command == "postgres");
        if (_cpuUse is { } use && use.Others / (use.Wall * Environment.ProcessorCount) > 0.05)
            Note($"other processes used {use.Others:0} core-seconds ({use.Others / (use.Wall * Environment.ProcessorCount):P0} of the machine) during the bench: the numbers are skewed by that load");
        var report = Report();
        Console.WriteLine(report);
        if (o.Out is { } outPath)
        {
            File.WriteAllText(outPath, report);
            Log($"wrote {outPath}");
        }
        if (o.Json is { } jsonPath)
        {
            File.WriteAllText(jsonPath, ResultsJson());
            Log($"wrote {jsonPath}");
        }
        return 0;
    }

    // ------------------------------------------------------------------------------------------
    // Set-up
    // ------------------------------------------------------------------------------------------

    private async Task<string> EnsureDatabaseAsync(string admin)
    {
        var builder = new NpgsqlConnectionStringBuilder(admin) { Database = Program.BenchDatabase };
        await using (var conn = new NpgsqlConnection(admin))
        {
            await conn.OpenAsync(stop);
            // A fresh database per run: empty tables, and a schema that matches the build under test
            // (a database migrated by a newer build would make an older one refuse to be ready).
            Log($"creating database {Program.BenchDatabase} (dropped first if it exists)");
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {Program.BenchDatabase} WITH (FORCE)", conn);
            await drop.ExecuteNonQueryAsync(stop);
            await using var create = new NpgsqlCommand($"CREATE DATABASE {Program.BenchDatabase}", conn);
            await create.ExecuteNonQueryAsync(stop);
            await using var version = new NpgsqlCommand("SHOW server_version", conn);
            _pgVersion = (string)(await version.ExecuteScalarAsync(stop))!;
            await using var sync = new NpgsqlCommand("SHOW synchronous_commit", conn);
            _syncCommit = (string)(await sync.ExecuteScalarAsync(stop))!;
        }
        return builder.ConnectionString;
    }

    private ChildProcess StartService(int port, string connectionString)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(o.App))!;
        var info = new ProcessStartInfo("dotnet") { WorkingDirectory = dir, ArgumentList = { o.App, "--urls", $"http://127.0.0.1:{port}" } };
        foreach (var name in new[] { "http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY" }) info.Environment.Remove(name);
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("ASPNETCORE_", StringComparison.Ordinal) || k.StartsWith("AI__", StringComparison.Ordinal) || k.StartsWith("Models__", StringComparison.Ordinal)).ToList())
            info.Environment.Remove(key);
        var env = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["DOTNET_NOLOGO"] = "1",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Auth__SigningKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(48)),
            ["ConnectionStrings__Postgres"] = connectionString,
            ["AI__Endpoint"] = _fake.BaseUrl,
            ["AI__ApiKey"] = "x",
            ["AI__DefaultModel"] = StreamClient.Model,
            ["Models__2__Id"] = StreamClient.Model,
            ["Models__2__Provider"] = "openai",
            ["Models__2__ContextWindow"] = "16000",
            ["Models__2__MaxOutputTokens"] = "4096",
            // Guests are limited and metered per client address (requests per minute, open streams, tokens per day).
            // Raised so that none rejects a request here, while the metering itself still runs on every turn.
            ["RateLimits__Tiers__guest__RequestsPerMinute"] = "100000000",
            ["RateLimits__Tiers__guest__ConcurrentStreams"] = "1000000",
            ["RateLimits__Tiers__guest__TokensPerDay"] = "1000000000000000",
        };
        foreach (var (k, v) in env) info.Environment[k] = v;
        var child = ChildProcess.Start("chatslices", info, Path.Combine(o.WorkDir, "chatslices.log"));
        Program.Track(child, o.PidFile);
        Log($"started ChatSlices (pid {child.Pid}) on 127.0.0.1:{port}; log {child.LogPath}");
        return child;
    }

    private async Task WaitReadyAsync(Uri serviceUrl)
    {
        using var probe = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.GetTimestamp() + 90 * Stopwatch.Frequency;
        var last = "no answer";
        while (Stopwatch.GetTimestamp() < deadline)
        {
            stop.ThrowIfCancellationRequested();
            if (_service.HasExited) throw new BenchFailed($"ChatSlices exited during start-up:\n{_service.Tail()}");
            try
            {
                using var response = await probe.GetAsync(new Uri(serviceUrl, "/health/ready"), stop);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    Log("ChatSlices is ready");
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
        throw new BenchFailed($"ChatSlices was not ready within 90 s (last /health/ready answer: {last}); its log: {_service.LogPath}");
    }

    private async Task<string> StoredRepliesAsync(string benchDb)
    {
        try
        {
            return await CountStoredAsync(benchDb);
        }
        catch (NpgsqlException e)
        {
            return $"not counted ({e.Message})";
        }
    }

    private async Task<string> CountStoredAsync(string benchDb)
    {
        await using var conn = new NpgsqlConnection(benchDb);
        await conn.OpenAsync(stop);
        await using var cmd = new NpgsqlCommand("SELECT role, status, count(*) FROM chat_messages GROUP BY 1, 2 ORDER BY 1, 2", conn);
        await using var reader = await cmd.ExecuteReaderAsync(stop);
        var parts = new List<string>();
        while (await reader.ReadAsync(stop)) parts.Add($"{reader.GetString(0)}/{reader.GetString(1)}: {reader.GetInt64(2)}");
        return parts.Count == 0 ? "none" : string.Join(", ", parts);
    }

    private async Task StartNginxAsync(string nginxPath)
    {
        var port = Ports.Free();
        var upstreamPort = new Uri(_fake.BaseUrl).Port;
        var nginx = Nginx.TryStart(nginxPath, o.WorkDir, port, upstreamPort, out var problem);
        if (nginx is null)
        {
            _nginxSkipped = problem;
            Note($"nginx hop skipped: {problem}");
            return;
        }
        Program.Track(nginx, o.PidFile);
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
        _loadStart = ReadLoad();
    }

    private static string ReadLoad()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }

    // ------------------------------------------------------------------------------------------
    // Streams
    // ------------------------------------------------------------------------------------------

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
                if (!r.Ok) throw new BenchFailed($"warm-up stream to {target} failed: {r.Error}\n{(target.IsService() ? _service.Tail() : "")}");
            }
            var burst = await BurstAsync(target, burstSize);
            var failed = burst.Count(r => !r.Ok);
            if (failed > 0) Note($"warm-up burst to {target}: {failed} of {burst.Count} streams failed (first: {burst.First(r => !r.Ok).Error})");
        }
        DrainFake();
    }

    /// <summary>Concurrency 1: one stream at a time, the targets interleaved so that drift hits them alike.</summary>
    private async Task SequentialAsync()
    {
        for (var run = 1; run <= o.Runs; run++)
        {
            if (OverBudget($"sequential run {run}")) break;
            var results = _targets.ToDictionary(t => t, _ => new List<StreamResult>());
            var cpuBefore = ServiceCpu();
            for (var i = 0; i < o.Sequential; i++)
                for (var j = 0; j < _targets.Count; j++)
                {
                    var target = _targets[(i + j) % _targets.Count];
                    results[target].Add(await OneAsync(target));
                }
            AddServiceCpu("c=1", cpuBefore, ServiceCpu(), results[Target.ChatSlices].Count + results[Target.Completions].Count);
            var fake = DrainFake();
            var stats = _targets.ToDictionary(t => t, t => TargetStats.From(results[t], fake, Delay));
            _sequential.Add(stats);
            Log($"c=1 run {run}: " + Summary(stats));
        }
    }

    /// <summary>Concurrency N, for each level: bursts of N streams started at once, per target in turn.</summary>
    private async Task ConcurrentAsync()
    {
        foreach (var n in o.Concurrencies)
        {
            var levelRuns = _concurrent[n] = [];
            for (var run = 1; run <= o.Runs; run++)
            {
                if (OverBudget($"c={n} run {run}")) break;
                var results = _targets.ToDictionary(t => t, _ => new List<StreamResult>());
                for (var round = 0; round < o.ConcurrentRounds; round++)
                    for (var j = 0; j < _targets.Count; j++)
                    {
                        var target = _targets[(round + run + j) % _targets.Count];
                        var cpuBefore = target.IsService() ? ServiceCpu() : null;
                        results[target].AddRange(await BurstAsync(target, n));
                        if (target.IsService()) AddServiceCpu($"c={n} burst", cpuBefore, ServiceCpu(), n);
                        await Task.Delay(200, stop);
                    }
                var fake = DrainFake();
                var stats = _targets.ToDictionary(t => t, t => TargetStats.From(results[t], fake, Delay));
                levelRuns.Add(stats);
                Log($"c={n} run {run}: " + Summary(stats));
            }
        }
    }

    /// <summary>N streams at once through ChatSlices: every chunk there, once, in order; the service's RSS before and during.</summary>
    private async Task IntegrityAsync()
    {
        _rssBeforeIntegrity = Memory.ReadKb(_service.Pid, "VmRSS");
        for (var run = 1; run <= o.Runs; run++)
        {
            if (run > 1 && OverBudget($"integrity run {run}")) break;
            _integrity.Add(await HoldStreamsAsync(o.IntegrityStreams, $"run {run}"));
            await Task.Delay(500, stop);
        }
    }

    /// <summary>More streams at once, one run per level, until a level loses, reorders or stalls a chunk.</summary>
    private async Task MoreStreamsAsync()
    {
        foreach (var streams in o.MoreStreams)
        {
            if (OverBudget($"{streams} streams")) break;
            var run = await HoldStreamsAsync(streams, "once");
            _moreStreams.Add(run);
            if (!run.Clean) break;
            await Task.Delay(500, stop);
        }
    }

    private async Task<IntegrityRun> HoldStreamsAsync(int streams, string label)
    {
        var direct = await BurstAsync(Target.Direct, streams);
        var directStats = TargetStats.From(direct, DrainFake(), Delay);
        await Task.Delay(200, stop);

        var pid = _service.Pid;
        var before = Memory.ReadKb(pid, "VmRSS");
        var peakReset = Memory.ResetPeak(pid);
        using var sampling = new CancellationTokenSource();
        var sampler = Memory.SampleMaxAsync(pid, TimeSpan.FromMilliseconds(20), sampling.Token);
        var started = Stopwatch.GetTimestamp();
        var cpuBefore = ServiceCpu();
        var results = await BurstAsync(Target.ChatSlices, streams);
        AddServiceCpu($"c={streams} burst", cpuBefore, ServiceCpu(), streams);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        await sampling.CancelAsync();
        var sampled = await sampler;
        long? hwm = peakReset ? Memory.ReadKb(pid, "VmHWM") : null;
        var after = Memory.ReadKb(pid, "VmRSS");
        var run = new IntegrityRun(streams, Integrity.Check(results, o.Chunks), TargetStats.From(results, DrainFake(), Delay),
            Integrity.Check(direct, o.Chunks), directStats, before, sampled, hwm, after, seconds);
        Log($"{streams} streams {label}: {run.Check.Intact}/{run.Check.Streams} intact, lost {run.Check.Lost}, reordered {run.Check.Reordered}, longest gap {run.Check.LongestGapMs:0} ms" +
            $" ({seconds:0.00} s); RSS before {Mb(before)}, peak {Mb(run.PeakKb)}; TTFT p99 {run.Stats.TtftP99Ms:0.00} ms (direct {directStats.TtftP99Ms:0.00} ms)" +
            (run.Check.FirstProblem is { } p ? $"; first problem: {p}" : ""));
        return run;
    }

    /// <summary>
    /// Non-streaming chat completions, closed loop: --throughput-concurrency clients each sending the next request as soon
    /// as the last one is answered, for --throughput-seconds per target; the fake answers each after 20 ms.
    /// </summary>
    private async Task ThroughputAsync()
    {
        _fake.Script = new FakeScript { Chunks = ["A short answer, sent whole."], Delay = Delay, CompletionTokens = 6 };
        var targets = _targets.Where(t => t != Target.ChatSlices).ToList();
        foreach (var target in targets) await ClosedLoopAsync(target, TimeSpan.FromSeconds(1)); // warm-up
        for (var run = 1; run <= o.Runs; run++)
        {
            if (OverBudget($"throughput run {run}")) break;
            var stats = new Dictionary<Target, ThroughputStats>();
            for (var j = 0; j < targets.Count; j++)
            {
                var target = targets[(run + j) % targets.Count];
                stats[target] = await ClosedLoopAsync(target, TimeSpan.FromSeconds(o.ThroughputSeconds));
                await Task.Delay(200, stop);
            }
            DrainFake();
            _throughput.Add(stats);
            Log($"throughput run {run}: " + string.Join("; ", stats.Select(kv => $"{kv.Key} {kv.Value.PerSecond:0} req/s, p50 {kv.Value.P50Ms:0.00} ms, p99 {kv.Value.P99Ms:0.00} ms" +
                (kv.Value.Failed > 0 ? $", {kv.Value.Failed} FAILED ({kv.Value.FirstError})" : ""))));
        }
    }

    private async Task<ThroughputStats> ClosedLoopAsync(Target target, TimeSpan length)
    {
        var latencies = new List<double>();
        var failed = 0;
        string? firstError = null;
        var started = Stopwatch.GetTimestamp();
        var end = started + (long)(length.TotalSeconds * Stopwatch.Frequency);
        async Task ClientAsync()
        {
            while (Stopwatch.GetTimestamp() < end)
            {
                var (ms, error) = await _client.CompleteAsync(_urls[target], NextMarker(), stop);
                lock (latencies)
                {
                    if (error is null) latencies.Add(ms);
                    else if (failed++ == 0) firstError = error;
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, o.ThroughputConcurrency).Select(_ => ClientAsync()));
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        return new ThroughputStats(latencies.Count, failed, firstError, latencies.Count / seconds,
            Stats.Percentile(latencies, 50), Stats.Percentile(latencies, 99));
    }

    private string Summary(Dictionary<Target, TargetStats> stats) => string.Join("; ", stats.Select(kv =>
        $"{kv.Key} TTFT p50 {kv.Value.TtftP50Ms:0.000} p99 {kv.Value.TtftP99Ms:0.000} ms (to upstream p50 {kv.Value.ToUpstreamP50Ms:0.000}, first chunk p50 {kv.Value.FirstChunkP50Ms:0.000}), gap+ p99 {kv.Value.GapP99Us:0} µs" +
        (kv.Value.Failed > 0 ? $", {kv.Value.Failed} FAILED ({kv.Value.FirstError})" : "")));

    private static string Mb(long? kb) => kb is { } v ? $"{v / 1024.0:0.0} MiB" : "n/a";
}
