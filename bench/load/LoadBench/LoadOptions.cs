using System.Globalization;

namespace ChatSlices.LoadBench;

/// <summary>Command-line options; bench/load/run.sh passes them.</summary>
public sealed class LoadOptions
{
    public const string Model = "fake-gpt";

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
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int NextInt() => int.Parse(Next(), CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--app": o.App = Next(); break;
                case "--workdir": o.WorkDir = Next(); break;
                case "--pidfile": o.PidFile = Next(); break;
                case "--out": o.Out = Next(); break;
                case "--json": o.Json = Next(); break;
                case "--git": o.Git = Next(); break;
                case "--clients": o.Clients = NextInt(); break;
                case "--turns": o.Turns = NextInt(); break;
                case "--abort-percent": o.AbortPercent = NextInt(); break;
                case "--retry-percent": o.RetryPercent = NextInt(); break;
                case "--chunks": o.Chunks = NextInt(); break;
                case "--delay-ms": o.DelayMs = NextInt(); break;
                case "--seed": o.Seed = NextInt(); break;
                case "--turn-timeout-seconds": o.TurnTimeout = TimeSpan.FromSeconds(NextInt()); break;
                default: throw new ArgumentException($"unknown argument {args[i]}");
            }
        }
        if (o.App.Length == 0 || !File.Exists(o.App)) throw new ArgumentException("--app must name the published ChatSlices.dll");
        if (o.Clients < 1 || o.Turns < 1 || o.Chunks < 8) throw new ArgumentException("--clients and --turns must be at least 1, --chunks at least 8");
        if (o.WorkDir.Length == 0) o.WorkDir = Directory.CreateTempSubdirectory("chatslices-load.").FullName;
        return o;
    }
}
