using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ChatSlices.Bench.Common;
using ChatSlices.Tests.Support;

namespace ChatSlices.LoadBench;

/// <summary>The run: a fresh database, the fake upstream, the published service, the conversations, the checks, the report.</summary>
public sealed class LoadRun(LoadOptions o, CancellationToken stop)
{
    public const string Database = "chatslices_load";

    private readonly BenchLog _log = new("load");
    private readonly string _signingKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));

    private void Log(string text) => _log.Write(text);

    /// <summary>What the measured load did to the service: its turns, wall time, CPU and memory.</summary>
    private sealed record Load(List<Turn> Turns, double WallSeconds, double? CpuMs, long? RssBeforeKb, long PeakRssKb);

    public async Task<int> RunAsync()
    {
        var db = await BenchDatabase.RecreateAsync(BenchDatabase.AdminConnectionString(), Database, Log, stop);

        await using var fake = new FakeUpstream { Script = FakeScript.Numbered(o.Chunks, TimeSpan.FromMilliseconds(o.DelayMs)) };
        var fullReply = string.Concat(fake.Script.Chunks);
        var port = Ports.Free();
        await using var service = StartService(port, db, fake.BaseUrl);
        var url = new Uri($"http://127.0.0.1:{port}");
        using var http = NewHttpClient();
        await PublishedService.WaitReadyAsync(service, url, Log, stop);

        // Warm-up (JIT, pools), checked like the rest but not timed.
        var warmup = await ConverseAsync(http, url, Math.Min(8, o.Clients), 3, "warmup", o.Seed + 1);
        Log($"warm-up: {warmup.Sum(c => c.Turns.Count)} turns");
        var load = await LoadAsync(http, url, service);
        var turns = load.Turns;

        // Aborted replies are stored and quotas settled after the client has gone: wait (bounded) for that to land.
        var ids = turns.Concat(warmup.SelectMany(c => c.Turns)).Where(t => t.MessageId is not null).Select(t => t.MessageId!.Value).ToHashSet();
        var (snapshot, settleSeconds) = await SettleAsync(db, ids);
        var apiUsage = await ReadUsageAsync(http, url, turns.Select(t => t.UserId).Distinct(), stop);

        var upstream = fake.Requests.ToLookup(r => r.Body["messages"]!.AsArray()[^1]!["content"]!.GetValue<string>());
        var invariants = Checks.Run(turns, snapshot, apiUsage, upstream, fake.Script);
        var report = new LoadReport(o, turns, invariants, load.WallSeconds, settleSeconds, load.CpuMs, load.RssBeforeKb, load.PeakRssKb, fullReply.Length, AbortNoticedMs(turns, upstream));
        Console.WriteLine(report.Markdown());
        if (o.Out is { } outPath) await File.WriteAllTextAsync(outPath, report.Markdown(), stop);
        if (o.Json is { } jsonPath) await File.WriteAllTextAsync(jsonPath, report.Json(), stop);
        var violations = invariants.Sum(i => i.Violations);
        Log(violations == 0 ? "every invariant held" : $"{violations} violations");
        return violations == 0 ? 0 : 1;
    }

    private static HttpClient NewHttpClient()
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 4096,
            UseProxy = false,
            // An abandoned response closes its connection instead of reading the rest of the reply: a client that goes away.
            MaxResponseDrainSize = 0,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            AutomaticDecompression = DecompressionMethods.None,
        };
        return new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>The measured conversations, with the service's RSS sampled and its CPU time counted meanwhile.</summary>
    private async Task<Load> LoadAsync(HttpClient http, Uri url, ChildProcess service)
    {
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
        return new Load(turns, wall, cpu, rssBefore, peakKb);
    }

    /// <summary>Reads the stored rows until every reply is settled, for at most 15 s; the last snapshot and the seconds waited.</summary>
    private async Task<(Snapshot Snapshot, double Seconds)> SettleAsync(string db, HashSet<Guid> ids)
    {
        var settleStart = Stopwatch.GetTimestamp();
        var snapshot = await Snapshot.ReadAsync(db, stop);
        while (!snapshot.Settled(ids) && Stopwatch.GetElapsedTime(settleStart) < TimeSpan.FromSeconds(15))
        {
            await Task.Delay(500, stop);
            snapshot = await Snapshot.ReadAsync(db, stop);
        }
        return (snapshot, Stopwatch.GetElapsedTime(settleStart).TotalSeconds);
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

    private ChildProcess StartService(int port, string connectionString, string fakeUrl)
    {
        var env = PublishedService.FakeModel(fakeUrl, LoadOptions.Model, maxOutputTokens: 1024);
        env["Auth__SigningKey"] = _signingKey;
        env["Auth__Issuer"] = "chatslices";
        env["Auth__Audience"] = "chatslices-api";
        env["ConnectionStrings__Postgres"] = connectionString;
        // The aborts here are clients that leave for good: their turns end at once, as the checks expect (no resume grace).
        env["Chat__ResumeGraceSeconds"] = "0";
        var child = PublishedService.Start("chatslices-load", o.App, port, env, Path.Combine(o.WorkDir, "chatslices-load.log"), o.PidFile);
        Log($"started ChatSlices (pid {child.Pid}) on 127.0.0.1:{port}; log {child.LogPath}");
        return child;
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
