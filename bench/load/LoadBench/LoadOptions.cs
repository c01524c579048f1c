using ChatSlices.Bench.Common;

namespace ChatSlices.LoadBench;

/// <summary>Command-line options; bench/load/run.sh passes them.</summary>
public sealed class LoadOptions
{
    public const string Model = "fake-gpt";

    public const string Usage = "usage: LoadBench --app PUBLISHED/ChatSlices.dll [--clients 200] [--turns 20] [--abort-percent 10] [--retry-percent 20] [--chunks 16] [--delay-ms 10] [--seed 10] [--out load.md] [--json load.json]";

    public string App { get; private set; } = "";
    public string WorkDir { get; private set; } = "";
    public string? PidFile { get; private set; }
    public string? Out { get; private set; }
    public string? Json { get; private set; }
    public string Git { get; private set; } = "unknown";
    public int Clients { get; private set; } = 200;
    public int Turns { get; private set; } = 20;
    public int AbortPercent { get; private set; } = 10;
    public int RetryPercent { get; private set; } = 20;
    public int Chunks { get; private set; } = 24;
    public int DelayMs { get; private set; } = 25;
    public int Seed { get; private set; } = 10;
    public TimeSpan TurnTimeout { get; private set; } = TimeSpan.FromSeconds(60);

    public static LoadOptions Parse(string[] args)
    {
        var o = new LoadOptions();
        var a = new ArgReader(args);
        while (a.Next() is { } name)
        {
            switch (name)
            {
                case "--app": o.App = a.Value(); break;
                case "--workdir": o.WorkDir = a.Value(); break;
                case "--pidfile": o.PidFile = a.Value(); break;
                case "--out": o.Out = a.Value(); break;
                case "--json": o.Json = a.Value(); break;
                case "--git": o.Git = a.Value(); break;
                case "--clients": o.Clients = a.Int(); break;
                case "--turns": o.Turns = a.Int(); break;
                case "--abort-percent": o.AbortPercent = a.Int(); break;
                case "--retry-percent": o.RetryPercent = a.Int(); break;
                case "--chunks": o.Chunks = a.Int(); break;
                case "--delay-ms": o.DelayMs = a.Int(); break;
                case "--seed": o.Seed = a.Int(); break;
                case "--turn-timeout-seconds": o.TurnTimeout = TimeSpan.FromSeconds(a.Int()); break;
                default: throw a.Unknown();
            }
        }
        if (o.App.Length == 0 || !File.Exists(o.App)) throw new ArgumentException("--app must name the published ChatSlices.dll");
        if (o.Clients < 1 || o.Turns < 1 || o.Chunks < 8) throw new ArgumentException("--clients and --turns must be at least 1, --chunks at least 8");
        if (o.WorkDir.Length == 0) o.WorkDir = Directory.CreateTempSubdirectory("chatslices-load.").FullName;
        return o;
    }
}
