using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using ChatSlices.Bench.Common;
using ChatSlices.Tests.Support;
using static ChatSlices.Bench.Common.Figures;

// Two instances sharing Redis behind nginx, against one instance without Redis (issue 17): non-streaming turns/s in a
// closed loop, Redis commands per turn (INFO commandstats), and the time to the first event of a resumed stream, through
// the instance that runs it (memory) and through the other one (Redis). Everything on loopback, on this machine's cores.
var options = new Dictionary<string, string>();
for (var i = 0; i + 1 < args.Length; i += 2) options[args[i].TrimStart('-')] = args[i + 1];
var app = options["app"];
var nginxPath = options.GetValueOrDefault("nginx", "/usr/sbin/nginx");
var work = options.GetValueOrDefault("workdir", Path.GetTempPath());
var runs = int.Parse(options.GetValueOrDefault("runs", "3"), CultureInfo.InvariantCulture);
var seconds = int.Parse(options.GetValueOrDefault("seconds", "5"), CultureInfo.InvariantCulture);
var clients = int.Parse(options.GetValueOrDefault("clients", "64"), CultureInfo.InvariantCulture);
var resumes = int.Parse(options.GetValueOrDefault("resumes", "20"), CultureInfo.InvariantCulture);
var log = new BenchLog("multi");
// Whatever ends the run (a failed check included), the servers it started go with it.
AppDomain.CurrentDomain.UnhandledException += (_, _) => ChildProcess.StopAllAsync().GetAwaiter().GetResult();

await using var fake = new FakeUpstream();
var admin = BenchDatabase.AdminConnectionString();
var database = await BenchDatabase.RecreateAsync(admin, "chatslices_multi", log.Write, CancellationToken.None);
var redisPort = Ports.Free();
var redis = ChildProcess.Start("redis", new ProcessStartInfo("redis-server")
{
    ArgumentList = { "--bind", "127.0.0.1", "--port", redisPort.ToString(CultureInfo.InvariantCulture), "--save", "", "--appendonly", "no" },
}, Path.Combine(work, "redis.log"));
await Ports.WaitForListenerAsync(redisPort, TimeSpan.FromSeconds(10), () => redis.HasExited);

Dictionary<string, string> Settings(bool shared)
{
    var env = PublishedService.FakeModel(fake.BaseUrl, "fake-gpt", 256);
    env["ConnectionStrings__Postgres"] = database;
    env["Auth__SigningKey"] = "multi-bench-signing-key-of-at-least-32-bytes!";
    env["RateLimits__Tiers__guest__RequestsPerMinute"] = "100000000"; // limited (so the limits' cost is measured), never refused
    env["RateLimits__Tiers__guest__ConcurrentStreams"] = "100000";
    env["RateLimits__Tiers__guest__TokensPerDay"] = "100000000000";
    env["Chat__ResumeGraceSeconds"] = "30";
    if (shared) env["Redis__Connection"] = $"127.0.0.1:{redisPort}";
    return env;
}

async Task<(ChildProcess Process, Uri Url)> StartAsync(string name, bool shared)
{
    var port = Ports.Free();
    var url = new Uri($"http://127.0.0.1:{port}");
    var process = PublishedService.Start(name, app, port, Settings(shared), Path.Combine(work, name + ".log"), null);
    await PublishedService.WaitReadyAsync(process, url, log.Write, CancellationToken.None);
    return (process, url);
}

var single = await StartAsync("single", shared: false);
var a = await StartAsync("shared-a", shared: true);
var b = await StartAsync("shared-b", shared: true);
var gatewayPort = Ports.Free();
Directory.CreateDirectory(Path.Combine(work, "nginx"));
File.WriteAllText(Path.Combine(work, "nginx", "nginx.conf"), $$"""
    worker_processes 1;
    pid {{work}}/nginx/nginx.pid;
    error_log {{work}}/nginx/error.log warn;
    events { worker_connections 4096; }
    http {
      access_log off;
      upstream chatslices { server {{a.Url.Authority}}; server {{b.Url.Authority}}; keepalive 128; }
      server {
        listen 127.0.0.1:{{gatewayPort}};
        location / { proxy_pass http://chatslices; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }
      }
    }
    """);
var nginx = ChildProcess.Start("nginx", new ProcessStartInfo(nginxPath)
{
    ArgumentList = { "-p", Path.Combine(work, "nginx"), "-c", Path.Combine(work, "nginx", "nginx.conf"), "-g", "daemon off;" },
}, Path.Combine(work, "nginx.log"));
await Ports.WaitForListenerAsync(gatewayPort, TimeSpan.FromSeconds(10), () => nginx.HasExited);
var gateway = new Uri($"http://127.0.0.1:{gatewayPort}");

using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = 1024 }) { Timeout = TimeSpan.FromSeconds(30) };

async Task<double> ClosedLoopAsync(Uri target, TimeSpan length)
{
    var done = 0;
    var end = Stopwatch.GetTimestamp() + (long)(length.TotalSeconds * Stopwatch.Frequency);
    var started = Stopwatch.GetTimestamp();
    await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
    {
        while (Stopwatch.GetTimestamp() < end)
        {
            using var response = await http.PostAsJsonAsync(new Uri(target, "/v1/chat/completions"),
                new { model = "fake-gpt", stream = false, messages = new[] { new { role = "user", content = "Hello there" } } });
            if (!response.IsSuccessStatusCode) throw new BenchFailed($"{target}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            Interlocked.Increment(ref done);
        }
    }));
    return done / Stopwatch.GetElapsedTime(started).TotalSeconds;
}

async Task<Dictionary<string, long>> CommandStatsAsync()
{
    var info = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, ArgumentList = { "-p", redisPort.ToString(CultureInfo.InvariantCulture), "info", "commandstats" } };
    using var cli = Process.Start(info)!;
    var text = await cli.StandardOutput.ReadToEndAsync();
    await cli.WaitForExitAsync();
    return text.Split('\n').Where(l => l.StartsWith("cmdstat_", StringComparison.Ordinal))
        .ToDictionary(l => l[8..l.IndexOf(':')], l => long.Parse(l.Split("calls=")[1].Split(',')[0], CultureInfo.InvariantCulture));
}

fake.Script = new FakeScript { Chunks = ["A short answer, sent whole."], Delay = TimeSpan.FromMilliseconds(20), CompletionTokens = 6 };
await ClosedLoopAsync(single.Url, TimeSpan.FromSeconds(1));
await ClosedLoopAsync(gateway, TimeSpan.FromSeconds(1));
var singleRates = new List<double>();
var sharedRates = new List<double>();
var commandsPerTurn = new List<double>();
var awaitedPerTurn = new List<double>();
for (var run = 1; run <= runs; run++)
{
    singleRates.Add(await ClosedLoopAsync(single.Url, TimeSpan.FromSeconds(seconds)));
    var before = await CommandStatsAsync();
    var turnsBefore = fake.Requests.Count;
    sharedRates.Add(await ClosedLoopAsync(gateway, TimeSpan.FromSeconds(seconds)));
    var after = await CommandStatsAsync();
    var turns = fake.Requests.Count - turnsBefore;
    long Delta(Func<string, bool> which) => after.Where(kv => which(kv.Key)).Sum(kv => kv.Value - before.GetValueOrDefault(kv.Key));
    commandsPerTurn.Add(Delta(c => c is "evalsha" or "eval" or "zrem" or "rpush" or "publish" or "set" or "expire" or "get" or "llen" or "lrange" or "lindex" or "exists") / (double)turns);
    awaitedPerTurn.Add(Delta(c => c is "evalsha" or "eval") / (double)turns);
    log.Write($"run {run}: one instance {singleRates[^1]:0} turns/s; two with Redis behind nginx {sharedRates[^1]:0} turns/s; Redis calls per turn {commandsPerTurn[^1]:0.00} ({awaitedPerTurn[^1]:0.00} awaited); commands run in Redis per turn: "
        + string.Join(", ", after.Keys.Where(c => c != "info").Select(c => $"{c} {(after[c] - before.GetValueOrDefault(c)) / (double)turns:0.00}")));
    while (fake.Requests.TryDequeue(out _)) { }
}

// A resumed stream: started on A, cut after 3 text events, resumed with Last-Event-ID through A (memory) or B (Redis).
fake.Script = FakeScript.Numbered(40, TimeSpan.FromMilliseconds(20));
var viaOwner = new List<double>();
var viaOther = new List<double>();
for (var i = 0; i < resumes * 2; i++)
{
    var (messageId, lastId) = await StartAndCutAsync(a.Url);
    await Task.Delay(100); // events produced meanwhile: the first one resumed is a replay, not the model's next chunk
    var through = i % 2 == 0 ? a.Url : b.Url;
    using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(through, $"/v1/chat/streams/{messageId}"));
    request.Headers.Add("Last-Event-ID", lastId);
    var sent = Stopwatch.GetTimestamp();
    using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
    while (await reader.ReadLineAsync() is { } line && !line.StartsWith("data:", StringComparison.Ordinal)) { }
    (i % 2 == 0 ? viaOwner : viaOther).Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
    while (await reader.ReadLineAsync() is not null) { }
}

async Task<(string MessageId, string LastId)> StartAndCutAsync(Uri target)
{
    using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(target, "/v1/chat/stream"))
    {
        Content = JsonContent.Create(new { query = "Count" }),
    };
    using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
    string? messageId = null, lastId = null, type = null;
    var texts = 0;
    while (texts < 3 && await reader.ReadLineAsync() is { } line)
    {
        if (line.StartsWith("id: ", StringComparison.Ordinal)) lastId = line[4..];
        else if (line.StartsWith("event: ", StringComparison.Ordinal)) type = line[7..];
        else if (line.StartsWith("data: ", StringComparison.Ordinal))
        {
            if (type == "session") messageId = JsonDocument.Parse(line[6..]).RootElement.GetProperty("message_id").GetString();
            if (type == "text") texts++;
        }
    }
    return (messageId!, lastId!);
}

var ratio = sharedRates.Zip(singleRates, (s, o) => s / o).ToList();
var report = new StringBuilder();
report.AppendLine("### Two instances with Redis behind nginx (`bench/multi/run.sh`)");
report.AppendLine();
report.AppendLine($"{clients} clients in a closed loop on `POST /v1/chat/completions` (`stream: false`, the fake answers after 20 ms), {seconds} s per target and run, {runs} runs (median, min…max); everything on this machine's {Environment.ProcessorCount} cores.");
report.AppendLine();
report.AppendLine("| measure | figure | target |");
report.AppendLine("|---|---:|---|");
report.AppendLine($"| one instance, no Redis: turns/s | {Mmm(singleRates, "0")} | baseline |");
report.AppendLine($"| two instances + Redis + nginx: turns/s | {Mmm(sharedRates, "0")} | |");
report.AppendLine($"| two ÷ one | {Mmm(ratio, "0.00")}× | ≥ 1.7× when the service is the bottleneck |");
report.AppendLine($"| Redis calls the service sends per turn (scripts, the stream place given back) | {Mmm(commandsPerTurn, "0.00")} | |");
report.AppendLine($"| Redis round trips per turn awaited before the reply (limit scripts) | {Mmm(awaitedPerTurn, "0.00")} | ≤ 2 |");
report.AppendLine($"| resumed stream 100 ms after its cut, first (replayed) event: through the instance that runs it | p50 {Stats.Percentile(viaOwner, 50):0.00} ms, p99 {Stats.Percentile(viaOwner, 99):0.00} ms | |");
report.AppendLine($"| the same through the other instance (Redis) | p50 {Stats.Percentile(viaOther, 50):0.00} ms, p99 {Stats.Percentile(viaOther, 99):0.00} ms | |");
report.AppendLine();
var text = report.ToString();
Console.Out.Write(text);
if (options.TryGetValue("out", out var outPath)) await File.WriteAllTextAsync(outPath, text);

foreach (var p in new[] { nginx, a.Process, b.Process, single.Process, redis }) await p.StopAsync(TimeSpan.FromSeconds(10));
return 0;
