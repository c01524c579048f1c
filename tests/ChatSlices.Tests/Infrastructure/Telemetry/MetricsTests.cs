using System.Net;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Infrastructure.Telemetry;

[Collection(TelemetryCollection.Name)]
public class MetricsTests(TelemetryApiFactory api) : IClassFixture<TelemetryApiFactory>
{
    private const string Model = $"gen_ai_request_model=\"{TelemetryApiFactory.Model}\"";
    private const string UpstreamModel = $"gen_ai_request_model=\"{TelemetryApiFactory.UpstreamModel}\"";

    [Fact]
    public async Task StreamedTurn_ShowsInMetrics_FirstTokenOnce_TokenUsageAsReported_NoStreamLeftOpen()
    {
        api.Upstream.Script = new FakeScript { PromptTokens = 19, CompletionTokens = 5 };
        var response = await api.SocketClient(Tokens.For("metered-user")).SendAsync(
            ChatApiFactory.Post("/v1/chat/stream", new { query = "Count me", model = TelemetryApiFactory.Model }), HttpCompletionOption.ResponseHeadersRead);
        var events = await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync();
        var usage = events.Single(e => e.Event == "usage").Json;

        // The stream is closed (and the turn's metrics recorded) as the server unwinds, just after the client has the end.
        var metrics = await ScrapeUntilAsync(m => Prometheus.Sample(m, "chatslices_streams_open") == 0
                                                  && Prometheus.Sample(m, "gen_ai_server_request_duration_seconds_count", Model) == 1);

        Prometheus.Sample(metrics, "gen_ai_server_time_to_first_token_seconds_count", Model, "gen_ai_provider_name=\"openai\"").Should().Be(1);
        Prometheus.Sample(metrics, "gen_ai_server_time_per_output_token_seconds_count", Model).Should().Be(1);
        Prometheus.Sample(metrics, "gen_ai_client_token_usage_sum", UpstreamModel, "gen_ai_token_type=\"input\"")
            .Should().Be(usage.GetProperty("prompt_tokens").GetInt32());
        Prometheus.Sample(metrics, "gen_ai_client_token_usage_sum", UpstreamModel, "gen_ai_token_type=\"output\"")
            .Should().Be(usage.GetProperty("completion_tokens").GetInt32());
        Prometheus.Sample(metrics, "gen_ai_client_operation_duration_seconds_count", UpstreamModel).Should().Be(1);
        // The spec's bucket boundaries, not the SDK's defaults.
        metrics.Should().Contain($"gen_ai_server_time_to_first_token_seconds_bucket{{").And.Contain("le=\"0.005\"");
        // The turn's request and its upstream call are timed; the per-request records no dashboard reads are not made.
        metrics.Should().Contain("http_server_request_duration_seconds_count{").And.Contain("http_client_request_duration_seconds_count{")
            .And.NotContain("aspnetcore_routing_match_attempts").And.NotContain("aspnetcore_authorization_attempts")
            .And.NotContain("aspnetcore_rate_limiting_").And.NotContain("http_client_open_connections");
    }

    [Fact]
    public async Task Metrics_FromAnAllowedAddress_IsPrometheusText_WithRuntimeHttpAndDatabaseMetrics()
    {
        (await api.SocketClient().GetAsync("/health/ready")).StatusCode.Should().Be(HttpStatusCode.OK);

        var response = await api.SocketClient().GetAsync("/metrics");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.Should().Be("text/plain");
        var metrics = await response.Content.ReadAsStringAsync();
        metrics.Should().Contain("# TYPE http_server_request_duration_seconds histogram")
            .And.Contain("dotnet_gc_collections_total")
            .And.Contain("db_client_connection_count");
    }

    [Fact]
    public async Task TokenQuotaRefusal_IsCounted_ByReasonAndTier()
    {
        var response = await api.SocketClient(Tokens.For("over-quota-user", tier: "pro")).SendAsync(
            ChatApiFactory.Post("/v1/chat/stream", new { query = "Too much", model = "fake-gpt" })); // not the model the turn test counts
        response.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);

        var metrics = await ScrapeUntilAsync(m => Prometheus.Sample(m, "chatslices_refusals_total") is not null);

        Prometheus.Sample(metrics, "chatslices_refusals_total", "chatslices_refusal_reason=\"token_quota_exceeded\"", "chatslices_tier=\"pro\"")
            .Should().Be(1);
    }

    private async Task<string> ScrapeUntilAsync(Func<string, bool> ready)
    {
        var client = api.SocketClient();
        var metrics = "";
        for (var i = 0; i < 100 && !ready(metrics); i++)
        {
            if (i > 0) await Task.Delay(100);
            metrics = await client.GetStringAsync("/metrics");
        }
        return metrics;
    }
}
