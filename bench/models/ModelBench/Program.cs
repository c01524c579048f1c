using System.Globalization;
using ModelBench;

// ModelBench cache PAIRS.tsv  |  ModelBench recall PAGES.tsv  |  ModelBench speed  |  ModelBench tokens COUNTS.tsv
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
return args switch
{
    ["cache", var path] => await CachePairs.RunAsync(path, [0.70, 0.75, 0.80, 0.85, 0.90, 0.95], 0.80),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: ModelBench cache PAIRS.tsv");
    return 2;
}
