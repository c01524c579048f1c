using System.Net;
using System.Net.Http.Json;
using ChatSlices.Infrastructure.Assistants;
using ChatSlices.Tests.Support;
using Xunit.Abstractions;

namespace ChatSlices.Tests.Features.Assistants;

/// <summary>
/// The labelled question pairs of <c>Data/cache-pairs.tsv</c> (shared with bench/models): paraphrases that should be answered
/// from the cache, and near misses (a negation, other numbers, another name, the opposite verb) that must not be. Measured
/// through the service, as a user meets it, with the default embedder (all-MiniLM-L6-v2) and the default threshold: the
/// first question is asked and answered (and cached), then the second; whether it came from the cache is what
/// <c>done.cached</c> says (the real lookup: exact hash, pgvector's nearest neighbours above the threshold, the guard).
/// </summary>
public class CachePairsTests(ChatApiFactory api, ITestOutputHelper output) : IClassFixture<ChatApiFactory>
{
    public sealed record Pair(string Kind, string Cached, string Asked)
    {
        public bool ShouldHit => Kind == "paraphrase";
    }

    public static IReadOnlyList<Pair> Pairs { get; } = File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Data", "cache-pairs.tsv"))
        .Where(line => line.Length > 0 && line[0] != '#').Select(line => line.Split('\t')).Select(f => new Pair(f[0], f[1], f[2])).ToList();

    private static int _assistants;

    /// <summary>Whether the second question of <paramref name="pair"/> is answered from the cache the first one filled, in an assistant of its own.</summary>
    private async Task<bool> HitsAsync(Pair pair)
    {
        var assistant = (await (await api.AdminClient().PostAsJsonAsync("/v1/assistants", new
        {
            name = $"Pairs {Interlocked.Increment(ref _assistants)}", model = "fake-gpt",
        })).ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");
        var user = api.ClientFor(Tokens.For("pairs"));
        var first = await (await user.PostAsJsonAsync("/v1/chat/stream", new { query = pair.Cached, assistant_id = assistant, stream = false }))
            .ShouldBeJsonAsync(HttpStatusCode.OK);
        first.GetProperty("cached").GetBoolean().Should().BeFalse();
        var second = await (await user.PostAsJsonAsync("/v1/chat/stream", new { query = pair.Asked, assistant_id = assistant, stream = false }))
            .ShouldBeJsonAsync(HttpStatusCode.OK);
        return second.GetProperty("cached").GetBoolean();
    }

    [Fact]
    public async Task AtTheDefaultThreshold_NoNearMissIsAHit_AndMostParaphrasesAre()
    {
        api.Upstream.Script = new FakeScript();
        Pairs.Count.Should().BeGreaterThanOrEqualTo(200);
        Pairs.Select(p => p.Kind).Distinct().Should().BeEquivalentTo(["paraphrase", "negation", "number", "entity", "verb"]);

        var hits = new List<Pair>();
        foreach (var pair in Pairs)
            if (await HitsAsync(pair)) hits.Add(pair);
        var paraphraseHits = (double)hits.Count(p => p.ShouldHit) / Pairs.Count(p => p.ShouldHit);
        output.WriteLine($"threshold {CacheSettings.DefaultThreshold}: {hits.Count} hits, paraphrase hits {paraphraseHits:P0}");

        hits.Where(p => !p.ShouldHit).Select(p => $"{p.Kind}: {p.Cached} ~ {p.Asked}").Should().BeEmpty();
        paraphraseHits.Should().BeGreaterThanOrEqualTo(0.6);
    }
}
