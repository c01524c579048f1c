using ChatSlices.Bench.Common;

namespace ChatSlices.Bench;

/// <summary>Command-line options; bench/run.sh passes them.</summary>
public sealed class Options
{
    public const string Usage = "usage: ChatSlices.Bench --app PUBLISHED/ChatSlices.dll [--out BENCHMARKS.md] [--nginx /usr/sbin/nginx] [--runs 3] [--sequential 30] [--concurrency 64,256] [--rounds 2] [--integrity-streams 512] [--more-streams 1024,2048] [--throughput-seconds 5] [--json results.json] [--quick] [--parts relay,streams,throughput] [--service-env NAME=VALUE]... [--compare-env NAME=VALUE]... [--after-run COMMAND]";

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

    /// <summary>Which benchmarks run: relay (c=1 and bursts), streams (concurrent streams and RSS), throughput.</summary>
    public HashSet<string> Parts { get; set; } = [.. AllParts];

    public static readonly string[] AllParts = ["relay", "streams", "throughput"];

    /// <summary>Environment variables for the service only (e.g. DOTNET_gcServer=0), to compare runtime settings on one publish.</summary>
    public Dictionary<string, string> ServiceEnv { get; } = [];

    /// <summary>
    /// When given, a second service ("B": the same environment plus these) runs beside the first, and every throughput run
    /// measures both, in turn: an A/B on one machine whose load drifts alike for both (bench/telemetry.sh).
    /// </summary>
    public Dictionary<string, string> CompareEnv { get; } = [];

    /// <summary>
    /// A shell command run once the service is ready and after each concurrent-streams run (before the next run's RSS
    /// reading), with BENCH_SERVICE_PID, BENCH_SERVICE_URL and BENCH_RUN set; its output is logged. bench/memory.sh uses it.
    /// </summary>
    public string? AfterRun { get; set; }

    public static Options Parse(string[] args)
    {
        var o = new Options();
        var a = new ArgReader(args);
        while (a.Next() is { } name)
        {
            switch (name)
            {
                case "--app": o.App = a.Value(); break;
                case "--out": o.Out = a.Value(); break;
                case "--json": o.Json = a.Value(); break;
                case "--nginx": o.NginxPath = a.Value(); break;
                case "--workdir": o.WorkDir = a.Value(); break;
                case "--pidfile": o.PidFile = a.Value(); break;
                case "--runs": o.Runs = a.Int(); break;
                case "--sequential": o.Sequential = a.Int(); break;
                case "--warmup": o.Warmup = a.Int(); break;
                case "--concurrency": o.Concurrencies = a.Ints(); break;
                case "--more-streams": o.MoreStreams = a.Ints(); break;
                case "--throughput-seconds": o.ThroughputSeconds = a.Int(); break;
                case "--throughput-concurrency": o.ThroughputConcurrency = a.Int(); break;
                case "--rounds": o.ConcurrentRounds = a.Int(); break;
                case "--integrity-streams": o.IntegrityStreams = a.Int(); break;
                case "--chunks": o.Chunks = a.Int(); break;
                case "--delay-ms": o.DelayMs = a.Int(); break;
                case "--budget-seconds": o.BudgetSeconds = a.Int(); break;
                case "--quiet-wait-seconds": o.QuietWaitSeconds = a.Int(); break;
                case "--guest-addresses": o.GuestAddresses = Math.Clamp(a.Int(), 1, 250); break;
                case "--command": o.Command = a.Value(); break;
                case "--git": o.Git = a.Value(); break;
                case "--parts":
                    o.Parts = [.. a.Value().Split(',', StringSplitOptions.RemoveEmptyEntries)];
                    if (o.Parts.Except(AllParts).FirstOrDefault() is { } unknown) throw new ArgumentException($"--parts: unknown part {unknown} (parts: {string.Join(", ", AllParts)})");
                    break;
                case "--service-env": AddPair(o.ServiceEnv, "--service-env", a.Value()); break;
                case "--compare-env": AddPair(o.CompareEnv, "--compare-env", a.Value()); break;
                case "--after-run": o.AfterRun = a.Value(); break;
                case "--quick":
                    o.Runs = 1; o.Sequential = 4; o.Warmup = 2; o.Concurrencies = [32]; o.ConcurrentRounds = 1; o.IntegrityStreams = 64;
                    o.MoreStreams = [128]; o.ThroughputSeconds = 2; o.ThroughputConcurrency = 16;
                    break;
                default: throw a.Unknown();
            }
        }
        if (o.Concurrencies.Length == 0) throw new ArgumentException("--concurrency needs at least one level");
        if (o.App.Length == 0 || !File.Exists(o.App)) throw new ArgumentException("--app must name the published ChatSlices.dll");
        if (o.CompareEnv.Count > 0 && !o.Parts.SetEquals(["throughput"])) throw new ArgumentException("--compare-env needs --parts throughput");
        if (o.WorkDir.Length == 0) o.WorkDir = Directory.CreateTempSubdirectory("chatslices-bench.").FullName;
        return o;
    }

    private static void AddPair(Dictionary<string, string> into, string option, string pair)
    {
        var eq = pair.IndexOf('=');
        if (eq <= 0) throw new ArgumentException($"{option} needs NAME=VALUE");
        into[pair[..eq]] = pair[(eq + 1)..];
    }
}
