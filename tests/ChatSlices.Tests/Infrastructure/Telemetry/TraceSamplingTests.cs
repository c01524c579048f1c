using System.Diagnostics;
using System.Net;
using System.Text.Json;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Infrastructure.Telemetry;

/// <summary>
/// <c>Telemetry:TraceSampleRatio</c> decides for traces the service begins; a caller's <c>traceparent</c> decides for its
/// own. Spans are exported in the order they end, so once a later request's span has arrived, an earlier request's
/// would have too: that is how these tests see that nothing came.
/// </summary>
[Collection(TelemetryCollection.Name)]
public class TraceSamplingTests(NoRootTracesApiFactory api) : IClassFixture<NoRootTracesApiFactory>
{
    private const string FilePath = "/v1/files/{id:guid}";

    [Fact]
    public async Task RatioZero_RecordsNoTraceBegunHere_YetTheProblemQuotesItsTraceId()
    {
        // A caller that sends no traceparent: the service begins the trace.
        using var bare = new HttpClient(new SocketsHttpHandler { ActivityHeadersPropagator = null }) { BaseAddress = api.ServerAddress };
        bare.DefaultRequestHeaders.Authorization = new("Bearer", Tokens.For("sampling-user"));
        var unsampled = await bare.GetAsync($"/v1/files/{Guid.NewGuid()}");
        unsampled.StatusCode.Should().Be(HttpStatusCode.NotFound);
        var unsampledTraceId = JsonDocument.Parse(await unsampled.Content.ReadAsStringAsync()).RootElement.GetProperty("trace_id").GetString();
        unsampledTraceId.Should().MatchRegex("^[0-9a-f]{32}$");

        await SampledRequestIsExportedAsync();

        api.Otlp.Spans.Should().NotContain(s => s.TraceId == unsampledTraceId);
    }

    [Fact]
    public async Task GatewaysUnsampledTrace_IsFollowed_YetPassedOnToTheUpstream()
    {
        api.Upstream.Script = new FakeScript { Chunks = ["Not", " traced."] };
        string traceId;
        using (var gateway = new Activity("gateway").SetParentId(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.None).Start())
        {
            traceId = gateway.TraceId.ToHexString();
            var response = await api.SocketClient(Tokens.For("sampling-user")).SendAsync(
                ChatApiFactory.Post("/v1/chat/stream", new { query = "an unsampled question", model = TelemetryApiFactory.Model, stream = false }));
            response.StatusCode.Should().Be(HttpStatusCode.OK);
        }

        api.Upstream.Requests.Single(r => r.Body.ToJsonString().Contains("an unsampled question")).TraceParent.Should().StartWith($"00-{traceId}-");
        await SampledRequestIsExportedAsync();
        api.Otlp.Spans.Should().NotContain(s => s.TraceId == traceId);
    }

    /// <summary>A gateway's sampled trace is recorded whatever the ratio (parent-based sampling).</summary>
    private async Task SampledRequestIsExportedAsync()
    {
        using var gateway = TelemetryApiFactory.GatewayTrace();
        var sampled = await api.SocketClient(Tokens.For("sampling-user")).GetAsync($"/v1/files/{Guid.NewGuid()}");
        sampled.StatusCode.Should().Be(HttpStatusCode.NotFound);
        await api.Otlp.WaitForAsync(s => s.TraceId == gateway.TraceId.ToHexString() && s.Name == $"GET {FilePath}");
    }
}
