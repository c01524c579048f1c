using ChatSlices.Bench.Common;
using ChatSlices.Tests.Support;

namespace ChatSlices.Bench;

/// <summary>The numbers of one target in one run of a phase.</summary>
public sealed record TargetStats(
    int Streams, int Failed, string? FirstError,
    double TtftP50Ms, double TtftP99Ms,
    int GapSamples, double GapP50Us, double GapP99Us,
    double TransitP50Us, double TransitP99Us,
    double FakeLateP50Us, double FakeLateP99Us,
    double ToUpstreamP50Ms, double ToUpstreamP99Ms,
    double FirstChunkP50Ms, double FirstChunkP99Ms,
    double OwnP50Ms, double OwnP99Ms,
    double FirstEventP50Ms, double FirstEventP99Ms,
    double FirstEventToUpstreamP50Ms, double FirstEventToUpstreamP99Ms)
{
    /// <summary>
    /// TTFT of every stream that ended well; per chunk (when the fake's write times are known):
    /// the added gap (arrival gap minus the fake's write gap) and the transit time (arrival minus write).
    /// TTFT splits into: request sent → the fake has the request (<c>ToUpstream</c>); the fake's own wait for its first
    /// chunk; that chunk written → seen by the client (<c>FirstChunk</c>). <c>Own</c> = ToUpstream + FirstChunk, TTFT
    /// without the fake's timer, whose lateness would otherwise add the same noise to both sides.
    /// </summary>
    public static TargetStats From(IReadOnlyList<StreamResult> results, IReadOnlyDictionary<string, FakeRequest> fake, TimeSpan scriptDelay)
    {
        var ok = results.Where(r => r.Ok).ToList();
        var ttft = ok.Select(r => r.TtftMs).ToList();
        var gaps = new List<double>();
        var transit = new List<double>();
        var late = new List<double>();
        var toUpstream = new List<double>();
        var firstChunk = new List<double>();
        var own = new List<double>();
        var firstEvent = new List<double>();
        var eventToUpstream = new List<double>();
        var delayUs = scriptDelay.TotalMilliseconds * 1000;
        foreach (var r in ok)
        {
            if (!fake.TryGetValue(r.Marker, out var request)) continue;
            var written = request.ChunksWrittenAt.ToArray();
            if (written.Length != r.ArrivedAt.Count) continue;
            var to = Stats.Us(r.StartedAt, request.StartedAt) / 1000;
            var first = Stats.Us(written[0], r.FirstTextAt) / 1000;
            toUpstream.Add(to);
            firstChunk.Add(first);
            own.Add(to + first);
            firstEvent.Add(Stats.Us(r.StartedAt, r.FirstEventAt) / 1000);
            eventToUpstream.Add(Stats.Us(r.FirstEventAt, request.StartedAt) / 1000);
            for (var i = 0; i < written.Length; i++)
            {
                transit.Add(Stats.Us(written[i], r.ArrivedAt[i]));
                if (i == 0) continue;
                var fakeGap = Stats.Us(written[i - 1], written[i]);
                gaps.Add(Stats.Us(r.ArrivedAt[i - 1], r.ArrivedAt[i]) - fakeGap);
                late.Add(fakeGap - delayUs);
            }
        }
        return new TargetStats(
            results.Count, results.Count - ok.Count, results.FirstOrDefault(r => !r.Ok)?.Error,
            Stats.Percentile(ttft, 50), Stats.Percentile(ttft, 99),
            gaps.Count, Stats.Percentile(gaps, 50), Stats.Percentile(gaps, 99),
            Stats.Percentile(transit, 50), Stats.Percentile(transit, 99),
            Stats.Percentile(late, 50), Stats.Percentile(late, 99),
            Stats.Percentile(toUpstream, 50), Stats.Percentile(toUpstream, 99),
            Stats.Percentile(firstChunk, 50), Stats.Percentile(firstChunk, 99),
            Stats.Percentile(own, 50), Stats.Percentile(own, 99),
            Stats.Percentile(firstEvent, 50), Stats.Percentile(firstEvent, 99),
            Stats.Percentile(eventToUpstream, 50), Stats.Percentile(eventToUpstream, 99));
    }
}
