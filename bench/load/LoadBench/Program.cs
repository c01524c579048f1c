using ChatSlices.Bench.Common;
using ChatSlices.LoadBench;

// "No data lost under load" (issue 10), run by bench/load/run.sh: the conversations and their checks are in LoadRun.
return await BenchCli.RunAsync("load", LoadOptions.Usage, args, LoadOptions.Parse, (options, stop) => new LoadRun(options, stop).RunAsync());
