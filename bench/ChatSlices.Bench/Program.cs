using ChatSlices.Bench;
using ChatSlices.Bench.Common;

// The streaming part of bench/run.sh: the fake OpenAI upstream in this process, the published service, an nginx hop;
// the benchmarks are in Benchmarks/ (StreamingRelay, ConcurrentStreams, Throughput), run and reported by Bench.
return await BenchCli.RunAsync("bench", Options.Usage, args, Options.Parse, (options, stop) => new Bench(options, stop).RunAsync());
