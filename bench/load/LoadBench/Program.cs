using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ChatSlices.Bench;
using ChatSlices.Tests.Support;
using Npgsql;

namespace ChatSlices.LoadBench;

public static class Program
{
    public const string Database = "chatslices_load";

    public static async Task<int> Main(string[] args)
    {
        LoadOptions o;
        try
        {
            o = LoadOptions.Parse(args);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            Console.Error.WriteLine($"[load] {e.Message}");
            Console.Error.WriteLine("usage: LoadBench --app PUBLISHED/ChatSlices.dll [--clients 200] [--turns 20] [--abort-percent 10] [--retry-percent 20] [--chunks 16] [--delay-ms 10] [--seed 10] [--out load.md] [--json load.json]");
            return 2;
        }
        using var stop = new CancellationTokenSource();
        using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        try
        {
            return await new LoadRun(o, stop.Token).RunAsync();
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            Console.Error.WriteLine("[load] stopped");
            return 130;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"[load] FAILED: {e}");
            return 1;
        }
    }
}

/// <summary>The run: a fresh database, the fake upstream, the published service, the conversations, the checks, the report.</summary>
public sealed class LoadRun(LoadOptions o, CancellationToken stop)
{
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly string _signingKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));

    private void Log(string text) => Console.Error.WriteLine($"[load {Stopwatch.GetElapsedTime(_started).TotalSeconds,6:0.0}s] {text}");

    public async Task<int> RunAsync()
    {
        var admin = Environment.GetEnvironmentVariable("ConnectionStrings__Postgres");
        if (string.IsNullOrEmpty(admin)) throw new InvalidOperationException("ConnectionStrings__Postgres is not set (eval \"$(./run.sh --setup-only)\")");
        var db = await CreateDatabaseAsync(admin);

        await using var fake = new FakeUpstream { Script = FakeScript.Numbered(o.Chunks, TimeSpan.FromMilliseconds(o.DelayMs)) };
        var fullReply = string.Concat(fake.Script.Chunks);
        var port = Ports.Free();
        await using var service = StartService(port, db, fake.BaseUrl);
        var url = new Uri($"http://127.0.0.1:{port}");

        using var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 4096,
            UseProxy = false,
            // An abandoned response closes its connection instead of reading the rest of the reply: a client that goes away.
            MaxResponseDrainSize = 0,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            AutomaticDecompression = DecompressionMethods.None,
        };
        using var http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        await WaitReadyAsync(http, url, service);

        // Warm-up (JIT, pools), checked like the rest but not timed.
        var warmup = await ConverseAsync(http, url, Math.Min(8, o.Clients), 3, "warmup", o.Seed + 1);
        Log($"warm-up: {warmup.Sum(c => c.Turns.Count)} turns");

        var rssBefore = Memory.ReadKb(service.Pid, "VmRSS");
        using var sampling = new CancellationTokenSource();
        var peak = Memory.SampleMaxAsync(service.Pid, TimeSpan.FromMilliseconds(100), sampling.Token);
        var cpuBefore = Memory.CpuMs(service.Pid);
        var loadStart = Stopwatch.GetTimestamp();
        var conversations = await ConverseAsync(http, url, o.Clients, o.Turns, "user", o.Seed);
        var wall = Stopwatch.GetElapsedTime(loadStart).TotalSeconds;
        var cpu = Memory.CpuMs(service.Pid) - cpuBefore;
        await sampling.CancelAsync();
        var peakKb = await peak;
        var turns = conversations.SelectMany(c => c.Turns).ToList();
        Log($"{turns.Count} turns in {wall:0.0} s ({turns.Count(t => t.Aborted)} aborted, {turns.Count(t => t.Error is not null)} failed)");

        // Aborted replies are stored and quotas settled after the client has gone: wait (bounded) for that to land.
        var ids = turns.Concat(warmup.SelectMany(c => c.Turns)).Where(t => t.MessageId is not null).Select(t => t.MessageId!.Value).ToHashSet();
        var settleStart = Stopwatch.GetTimestamp();
        var snapshot = await Snapshot.ReadAsync(db, stop);
        while (!snapshot.Settled(ids) && Stopwatch.GetElapsedTime(settleStart) < TimeSpan.FromSeconds(15))
        {
            await Task.Delay(500, stop);
            snapshot = await Snapshot.ReadAsync(db, stop);
        }
        var settleSeconds = Stopwatch.GetElapsedTime(settleStart).TotalSeconds;
        var apiUsage = await ReadUsageAsync(http, url, turns.Select(t => t.UserId).Distinct(), stop);

        var upstream = fake.Requests.ToLookup(r => r.Body["messages"]!.AsArray()[^1]!["content"]!.GetValue<string>());
        var invariants = Checks.Run(turns, snapshot, apiUsage, upstream, fake.Script);
        var report = new LoadReport(o, turns, invariants, wall, settleSeconds, cpu, rssBefore, peakKb, fullReply.Length, AbortNoticedMs(turns, upstream));
        Console.WriteLine(report.Markdown());
        if (o.Out is { } outPath) await File.WriteAllTextAsync(outPath, report.Markdown(), stop);
        if (o.Json is { } jsonPath) await File.WriteAllTextAsync(jsonPath, report.Json(), stop);
        var violations = invariants.Sum(i => i.Violations);
        Log(violations == 0 ? "every invariant held" : $"{violations} violations");
        return violations == 0 ? 0 : 1;
    }

    /// <summary>Per aborted turn whose model call the service cancelled: client gone → the fake saw the call cancelled (ms).</summary>
    private static List<double> AbortNoticedMs(IEnumerable<Turn> turns, ILookup<string, FakeRequest> upstream) =>
        [.. turns.Where(t => t.Aborted).SelectMany(t => upstream[t.Content].Where(r => r.Aborted.Task.IsCompleted)
            .Select(r => Stopwatch.GetElapsedTime(t.AbortedAt, r.Aborted.Task.Result).TotalMilliseconds))];

    private async Task<List<Conversation>> ConverseAsync(HttpClient http, Uri url, int clients, int turns, string prefix, int seed)
    {
        var conversations = Enumerable.Range(0, clients)
            .Select(i => new Conversation(http, url, $"{prefix}{i:000}", Token($"{prefix}{i:000}"), new Random(seed * 100_003 + i), turns, o)).ToList();
        await Task.WhenAll(conversations.Select(c => Task.Run(() => c.RunAsync(stop), stop)));
        return conversations;
    }

    /// <summary>An HS256 token signed with the key the service was started with, as <c>dotnet ChatSlices.dll token --tier pro</c> would mint.</summary>
    private string Token(string sub)
    {
        static string B64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var head = B64("""{"alg":"HS256","typ":"JWT"}"""u8.ToArray()) + "." +
                   B64(JsonSerializer.SerializeToUtf8Bytes(new { iss = "chatslices", aud = "chatslices-api", sub, tier = "pro", iat = now, nbf = now, exp = now + 3600 }));
        return head + "." + B64(HMACSHA256.HashData(Encoding.UTF8.GetBytes(_signingKey), Encoding.ASCII.GetBytes(head)));
    }

    private async Task<string> CreateDatabaseAsync(string admin)
    {
        await using (var conn = new NpgsqlConnection(admin))
        {
            await conn.OpenAsync(stop);
            Log($"creating database {Program.Database} (dropped first if it exists)");
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {Program.Database} WITH (FORCE)", conn);
            await drop.ExecuteNonQueryAsync(stop);
            await using var create = new NpgsqlCommand($"CREATE DATABASE {Program.Database}", conn);
            await create.ExecuteNonQueryAsync(stop);
        }
        return new NpgsqlConnectionStringBuilder(admin) { Database = Program.Database }.ConnectionString;
    }

    private ChildProcess StartService(int port, string connectionString, string fakeUrl)
    {
        var info = new ProcessStartInfo("dotnet") { WorkingDirectory = Path.GetDirectoryName(Path.GetFullPath(o.App))!, ArgumentList = { o.App, "--urls", $"http://127.0.0.1:{port}" } };
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("ASPNETCORE_", StringComparison.Ordinal) || k.StartsWith("AI__", StringComparison.Ordinal)
                                                             || k.StartsWith("Models__", StringComparison.Ordinal) || k.StartsWith("RateLimits__", StringComparison.Ordinal)
                                                             || k.Contains("proxy", StringComparison.OrdinalIgnoreCase)).ToList())
            info.Environment.Remove(key);
        var env = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Auth__SigningKey"] = _signingKey,
            ["Auth__Issuer"] = "chatslices",
            ["Auth__Audience"] = "chatslices-api",
            ["ConnectionStrings__Postgres"] = connectionString,
            ["AI__Endpoint"] = fakeUrl,
            ["AI__ApiKey"] = "x",
            ["AI__DefaultModel"] = LoadOptions.Model,
            ["Models__2__Id"] = LoadOptions.Model,
            ["Models__2__Provider"] = "openai",
            ["Models__2__ContextWindow"] = "16000",
            ["Models__2__MaxOutputTokens"] = "1024",
        };
        foreach (var (k, v) in env) info.Environment[k] = v;
        var child = ChildProcess.Start("chatslices", info, Path.Combine(o.WorkDir, "chatslices-load.log"));
        if (o.PidFile is not null) File.AppendAllText(o.PidFile, $"{child.Pid} chatslices-load\n");
        Log($"started ChatSlices (pid {child.Pid}) on 127.0.0.1:{port}; log {child.LogPath}");
        return child;
    }

    private async Task WaitReadyAsync(HttpClient http, Uri url, ChildProcess service)
    {
        var deadline = Stopwatch.GetTimestamp() + 90 * Stopwatch.Frequency;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (service.HasExited) throw new InvalidOperationException($"ChatSlices exited during start-up:\n{service.Tail()}");
            try
            {
                using var response = await http.GetAsync(new Uri(url, "/health/ready"), stop);
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(200, stop);
        }
        throw new InvalidOperationException($"ChatSlices was not ready within 90 s; its log: {service.LogPath}");
    }

    private async Task<Dictionary<string, (long Prompt, long Completion)>> ReadUsageAsync(HttpClient http, Uri url, IEnumerable<string> users, CancellationToken ct)
    {
        var usage = new Dictionary<string, (long, long)>();
        await Parallel.ForEachAsync(users, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct }, async (user, token) =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(url, "/v1/tokens/usage"));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token(user));
            using var response = await http.SendAsync(request, token);
            if (!response.IsSuccessStatusCode) return; // the check reports the user as not read
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(token));
            var root = doc.RootElement;
            lock (usage) usage[user] = (root.GetProperty("prompt_tokens").GetInt64(), root.GetProperty("completion_tokens").GetInt64());
        });
        return usage;
    }
}
