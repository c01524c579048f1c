using System.Net;
using System.Net.Http.Json;
using ChatSlices.Tests.Support;
using Xunit.Abstractions;

namespace ChatSlices.Tests.Features.Assistants;

/// <summary>
/// A labelled set of question pairs: paraphrases that should be answered from the cache, and near-misses that must
/// not be. Measured through the service, as a user meets it: the first question is asked and answered (and cached),
/// then the second; whether it came from the cache is what <c>done.cached</c> says (the real lookup: exact hash,
/// pgvector's nearest neighbours above the threshold, the guard), with the offline embedder.
/// </summary>
public class CachePairsTests(ChatApiFactory api, ITestOutputHelper output) : IClassFixture<ChatApiFactory>
{
    public static readonly (string Cached, string Asked, bool ShouldHit)[] Pairs =
    [
        ("How do I reset my password?", "how do I reset my password", true),
        ("How do I reset my password?", "How can I reset my password?", true),
        ("How do I reset my password?", "How do I reset my password please?", true),
        ("What are your opening hours?", "What are your opening hours today?", true),
        ("Where can I find the invoice for my last order?", "Where do I find the invoice for my last order?", true),
        ("How do I enable two factor authentication?", "How do I enable two-factor authentication?", true),
        ("Can I change my delivery address after ordering?", "Can I change the delivery address after ordering?", true),
        ("What is the refund policy for damaged items?", "What's the refund policy for damaged items?", true),
        ("How long does shipping to Canada take?", "How long does shipping to Canada usually take?", true),
        ("Do you ship to Norway?", "Do you ship to Norway at all?", true),
        ("How do I export my data to CSV?", "How can I export my data to CSV?", true),
        ("Which payment methods do you accept?", "Which payment methods do you accept online?", true),
        ("How do I cancel my subscription?", "How do I cancel my subscription plan?", true),
        ("Is there a student discount?", "Is there a discount for students?", true),
        ("How do I contact customer support?", "How can I contact customer support?", true),
        ("What is the warranty on the X200 laptop?", "What is the warranty for the X200 laptop?", true),
        ("How do I update the app on Android?", "How do I update the app on my Android phone?", true),
        ("Where is my order?", "where is my order??", true),
        ("Can I pay with PayPal?", "Can I pay using PayPal?", true),
        ("How do I add a team member to my workspace?", "How can I add a team member to my workspace?", true),

        ("How do I enable two factor authentication?", "How do I disable two factor authentication?", false),
        ("How do I add a team member?", "How do I remove a team member?", false),
        ("Can I return an item after 14 days?", "Can I return an item after 30 days?", false),
        ("Is shipping free on orders over 50 euros?", "Is shipping free on orders over 100 euros?", false),
        ("Do you ship to Norway?", "Do you not ship to Norway?", false),
        ("Can I pay with PayPal?", "Can't I pay with PayPal?", false),
        ("How do I lock my account?", "How do I unlock my account?", false),
        ("How do I start a free trial?", "How do I stop a free trial?", false),
        ("How do I subscribe to the newsletter?", "How do I unsubscribe from the newsletter?", false),
        ("How do I upload a file?", "How do I download a file?", false),
        ("What is the maximum upload size?", "What is the minimum upload size?", false),
        ("How do I increase my storage quota?", "How do I decrease my storage quota?", false),
        ("Which plans include single sign-on?", "Which plans exclude single sign-on?", false),
        ("Is the office open before 9?", "Is the office open after 9?", false),
        ("What does plan 2 cost?", "What does plan 3 cost?", false),
        ("How do I install the desktop app?", "How do I uninstall the desktop app?", false),
        ("How do I allow pop-ups in the browser?", "How do I block pop-ups in the browser?", false),
        ("Does the X200 support 4K?", "Does the X300 support 4K?", false),
        ("How many days of vacation do I get in year 1?", "How many days of vacation do I get in year 5?", false),
        ("How do I encrypt a backup?", "How do I decrypt a backup?", false),
        ("Should I accept the invitation?", "Should I reject the invitation?", false),
        ("Is the first month free?", "Is the last month free?", false),
    ];

    private static int _assistants;

    /// <summary>Whether the second question of <paramref name="pair"/> is answered from the cache the first one filled.</summary>
    private async Task<bool> HitsAsync((string Cached, string Asked, bool ShouldHit) pair, double threshold)
    {
        var assistant = (await (await api.AdminClient().PostAsJsonAsync("/v1/assistants", new
        {
            name = $"Pairs {Interlocked.Increment(ref _assistants)}", model = "fake-gpt",
            settings = new { cache = new { similarity_threshold = threshold, ttl_seconds = 3600 } },
        })).ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");
        var user = api.ClientFor(Tokens.For("pairs"));
        var first = await (await user.PostAsJsonAsync("/v1/chat/stream", new { query = pair.Cached, assistant_id = assistant, stream = false }))
            .ShouldBeJsonAsync(HttpStatusCode.OK);
        first.GetProperty("cached").GetBoolean().Should().BeFalse();
        var second = await (await user.PostAsJsonAsync("/v1/chat/stream", new { query = pair.Asked, assistant_id = assistant, stream = false }))
            .ShouldBeJsonAsync(HttpStatusCode.OK);
        return second.GetProperty("cached").GetBoolean();
    }

    [Theory]
    [InlineData(0.95)]
    [InlineData(0.85)]
    [InlineData(0.75)]
    public async Task NoNearMissIsAHit_AtAnyUsefulThreshold(double threshold)
    {
        api.Upstream.Script = new FakeScript();
        Pairs.Length.Should().BeGreaterThanOrEqualTo(40);
        var hits = new List<(string Cached, string Asked, bool ShouldHit)>();
        foreach (var pair in Pairs)
            if (await HitsAsync(pair, threshold)) hits.Add(pair);
        var correct = hits.Count(p => p.ShouldHit);
        var recall = (double)correct / Pairs.Count(p => p.ShouldHit);
        output.WriteLine($"threshold {threshold}: {hits.Count} hits, precision {(hits.Count == 0 ? 1 : (double)correct / hits.Count):0.00}, recall {recall:0.00}");

        hits.Where(p => !p.ShouldHit).Select(p => $"{p.Cached} ~ {p.Asked}").Should().BeEmpty();
        if (threshold <= 0.75) recall.Should().BeGreaterThanOrEqualTo(0.6, "the offline embedder sees paraphrases that keep most words as close");
    }
}
