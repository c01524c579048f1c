using System.Diagnostics;
using ChatSlices.Bench.Common;
using ChatSlices.Tests.Support;

namespace ChatSlices.Bench;

/// <summary>
/// One run of the streaming part: the fake, the service and nginx (Setup.cs), the benchmarks in turn (Benchmarks/), then the
/// report (Report.cs, Goals.cs). Each benchmark file holds its measurements, its section of the report and its JSON.
/// </summary>
public sealed partial class Bench(Options o, CancellationToken stop)
{
    public const string Database = "chatslices_bench";

    private readonly BenchLog _log = new("bench");
    private readonly List<string> _notes = [];
    private TimeSpan Delay => TimeSpan.FromMilliseconds(o.DelayMs);

    private FakeUpstream _fake = null!;
    private StreamClient _client = null!;
    private readonly Dictionary<Target, Uri> _urls = [];
    private readonly List<Target> _targets = [];
    private ChildProcess _service = null!;
    private ChildProcess? _serviceB;
    private string _benchDb = null!;
    private Uri _serviceUrl = null!;
    private ChildProcess? _nginx;
    private CpuAccount? _cpu;
    private (double Ours, double Others, double Wall)? _cpuUse;
    private long? _rssReady;
    private string _pgVersion = "?", _syncCommit = "?", _loadStart = "?", _loadEnd = "?", _stored = "?";
    private string? _nginxSkipped;

    /// <summary>The service's CPU time per ChatSlices stream, per run of each phase (ms).</summary>
    private readonly Dictionary<string, List<double>> _serviceCpuPerStream = [];

    private double? AddServiceCpu(string phase, double? before, double? after, int streams)
    {
        if (before is null || after is null || streams == 0) return null;
        if (!_serviceCpuPerStream.TryGetValue(phase, out var list)) _serviceCpuPerStream[phase] = list = [];
        var perStream = (after.Value - before.Value) / streams;
        list.Add(perStream);
        return perStream;
    }

    private double? ServiceCpu(Target target = Target.Completions) => Memory.CpuMs(ServiceOf(target).Pid);

    private ChildProcess ServiceOf(Target target) => target == Target.CompletionsB ? _serviceB! : _service;

    private long _measuringSince;
    private double Elapsed => _log.Elapsed;

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

    private void Log(string text) => _log.Write(text);

    public async Task<int> RunAsync()
    {
        var benchDb = _benchDb = await EnsureDatabaseAsync(BenchDatabase.AdminConnectionString());
        await StartTargetsAsync(benchDb);
        using var http = NewHttpClient();
        _client = new StreamClient(http);

        await WaitForQuietAsync();
        _cpu = CpuAccount.Start(); // count from here: the measured phases
        _measuringSince = Stopwatch.GetTimestamp();
        await WarmUpAsync();
        if (o.Parts.Contains("relay"))
        {
            await SequentialAsync();
            await ConcurrentAsync();
        }
        if (o.Parts.Contains("streams"))
        {
            await AfterRunAsync("ready");
            await IntegrityAsync();
            await MoreStreamsAsync();
        }
        if (o.Parts.Contains("throughput")) await ThroughputAsync();

        _stored = await StoredRepliesAsync(benchDb);
        _loadEnd = Machine.LoadAverage();
        var self = Environment.ProcessId;
        _cpuUse = _cpu?.Stop(p => p.Pid == self || p.Pid == _service.Pid || p.Pid == _serviceB?.Pid || (_nginx is { } n && (p.Pid == n.Pid || p.ParentPid == n.Pid)) || p.Command == "postgres");
        if (_cpuUse is { } use && use.Others / (use.Wall * Environment.ProcessorCount) > 0.05)
            Note($"other processes used {use.Others:0} core-seconds ({use.Others / (use.Wall * Environment.ProcessorCount):P0} of the machine) during the bench: the numbers are skewed by that load");
        WriteReport();
        return 0;
    }

    private void WriteReport()
    {
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
    }
}
