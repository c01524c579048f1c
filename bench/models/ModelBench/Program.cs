using System.Globalization;
using ChatSlices.Infrastructure.Assistants;
using ModelBench;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
return args switch
{
    ["cache", var pairs] => await CachePairs.RunAsync(pairs, [0.70, 0.75, 0.80, 0.85, 0.90, 0.95], CacheSettings.DefaultThreshold),
    ["recall", var pages, var filler] => await Recall.RunAsync(pages, filler),
    ["speed", var pageCount, var runs, var questions] => await Ingestion.SpeedAsync(int.Parse(pageCount), int.Parse(runs), questions),
    ["tokens", var counts] => Tokens.Run(counts),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: ModelBench cache PAIRS.tsv | recall PAGES.tsv FILLER.txt | speed PAGES RUNS QUESTIONS.tsv | tokens COUNTS.tsv");
    return 2;
}
