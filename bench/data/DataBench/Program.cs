using System.Globalization;
using DataBench;

// DataBench: the helper of bench/data/run.sh. Sub-commands (all loopback, all bounded), one file each:
//   history --base URL --token JWT [--runs 3] [--n 200] [--warmup 20]                        HistoryListing.cs
//   vectors-seed --conn CS [--chunks 100000] [--dims 384] [--clusters 100] [--per-doc 1000]   VectorData.cs
//   vectors --conn CS [--runs 3] [--queries 200] [--ef 40,100,200]                           Retrieval.cs
//   pdf --base URL --token JWT [--runs 5]                                                     Ingestion.cs
//   cache --base URL --token JWT --admin-token JWT --fake-port PORT [--runs 3] [--n 100] [--prime 10] [--settle-ms 50]
//     (the service must run with AI__Endpoint=http://127.0.0.1:PORT/v1 and the model fake-gpt, provider openai: see run.sh)
//                                                                                             SemanticCache.cs
// Figures go to STDOUT as Markdown; progress to STDERR.
var opts = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 1; i + 1 < args.Length; i += 2) opts[args[i].TrimStart('-')] = args[i + 1];
string Opt(string name, string? fallback = null) => opts.TryGetValue(name, out var v) ? v : fallback ?? throw new ArgumentException($"--{name} is required");
int IntOpt(string name, int fallback) => int.Parse(Opt(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

try
{
    return args.Length == 0 ? Usage() : args[0] switch
    {
        "history" => await HistoryListing.RunAsync(Opt("base"), Opt("token"), IntOpt("runs", 3), IntOpt("n", 200), IntOpt("warmup", 20)),
        "vectors-seed" => await VectorData.SeedAsync(Opt("conn"), IntOpt("chunks", 100_000), IntOpt("dims", 384), IntOpt("clusters", 100), IntOpt("per-doc", 1000)),
        "vectors" => await Retrieval.RunAsync(Opt("conn"), IntOpt("runs", 3), IntOpt("queries", 200), IntOpt("dims", 384), IntOpt("clusters", 100),
            Opt("ef", "40,100,200").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray()),
        "pdf" => await Ingestion.RunAsync(Opt("base"), Opt("token"), IntOpt("runs", 5)),
        "cache" => await SemanticCache.RunAsync(Opt("base"), Opt("token"), Opt("admin-token"), IntOpt("runs", 3), IntOpt("n", 100), int.Parse(Opt("fake-port"), CultureInfo.InvariantCulture), IntOpt("prime", 10), IntOpt("settle-ms", 50)),
        _ => Usage(),
    };
}
catch (Exception ex)
{
    Console.Error.WriteLine($"[DataBench] FAILED: {ex}");
    return 1;
}

static int Usage()
{
    Console.Error.WriteLine("usage: DataBench history|vectors-seed|vectors|pdf|cache --option value ... (see Program.cs)");
    return 2;
}
