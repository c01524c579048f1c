using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Infrastructure.Telemetry;

[Collection(TelemetryCollection.Name)]
public class TracingTests(TelemetryApiFactory api) : IClassFixture<TelemetryApiFactory>
{
    private const string Question = "What does the telemetry test ask?";

    [Fact]
    public async Task ChatSpan_ReachesTheOtlpReceiver_WithGenAiAttributes_InTheGatewaysTrace()
    {
        api.Upstream.Script = new FakeScript { Model = "metrics-gpt-2026-12-01", PromptTokens = 31, CompletionTokens = 5, FinishReason = "length" };
        using var gateway = TelemetryApiFactory.GatewayTrace();
        var traceId = gateway.TraceId.ToHexString();

        var response = await api.SocketClient(Tokens.For("traced-user")).SendAsync(
            ChatApiFactory.Post("/v1/chat/stream", new { query = Question, model = TelemetryApiFactory.Model }), HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var events = await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync();
        events.Select(e => e.Event).Should().EndWith(["usage", "done"]);

        var chat = await api.Otlp.WaitForAsync(s => s.TraceId == traceId && s.Name == $"chat {TelemetryApiFactory.UpstreamModel}");
        chat.Attributes.Should().Contain(new Dictionary<string, object?>
        {
            ["gen_ai.operation.name"] = "chat",
            ["gen_ai.provider.name"] = "openai",
            ["gen_ai.request.model"] = TelemetryApiFactory.UpstreamModel,
            ["gen_ai.response.model"] = "metrics-gpt-2026-12-01",
            ["gen_ai.usage.input_tokens"] = 31L,
            ["gen_ai.usage.output_tokens"] = 5L,
        });
        chat.Attributes["gen_ai.response.finish_reasons"].Should().BeEquivalentTo(new[] { "length" });

        // The upstream request is the chat span's child, in the same trace, and says so in its traceparent.
        var upstream = api.Upstream.Requests.Single(r => r.Body.ToJsonString().Contains(Question));
        upstream.TraceParent.Should().StartWith($"00-{traceId}-");
        var upstreamSpanId = upstream.TraceParent!.Split('-')[2];
        (await api.Otlp.WaitForAsync(s => s.SpanId == upstreamSpanId)).ParentSpanId.Should().Be(chat.SpanId);
        (await api.Otlp.WaitForAsync(s => s.TraceId == traceId && s.Name == "POST /v1/chat/stream")).SpanId.Should().Be(chat.ParentSpanId);
    }

    [Fact]
    public async Task Spans_HoldNoMessageContent_UnlessRecordContentIsSet()
    {
        api.Upstream.Script = new FakeScript { Chunks = ["A private", " answer."] };
        using var gateway = TelemetryApiFactory.GatewayTrace();
        var traceId = gateway.TraceId.ToHexString();

        var response = await api.SocketClient(Tokens.For("private-user")).SendAsync(
            ChatApiFactory.Post("/v1/chat/stream", new { query = "my secret question", model = TelemetryApiFactory.Model, stream = false }));
        response.StatusCode.Should().Be(HttpStatusCode.OK);

        var chat = await api.Otlp.WaitForAsync(s => s.TraceId == traceId && s.Name.StartsWith("chat "));
        chat.Attributes.Keys.Should().NotContain(["gen_ai.input.messages", "gen_ai.output.messages"]);
        await api.Otlp.WaitForAsync(s => s.TraceId == traceId && s.Name == "POST /v1/chat/stream");
        var exported = api.Otlp.TraceBodies.Select(Encoding.UTF8.GetString).ToList();
        exported.Should().NotContain(body => body.Contains("my secret question") || body.Contains("A private answer"));
    }

    [Fact]
    public async Task Problem_QuotesTheGatewaysTraceId()
    {
        using var gateway = TelemetryApiFactory.GatewayTrace();
        var traceId = gateway.TraceId.ToHexString();

        var response = await api.SocketClient(Tokens.For("traced-user")).GetAsync($"/v1/files/{Guid.NewGuid()}");

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("trace_id").GetString().Should().Be(traceId);
        await api.Otlp.WaitForAsync(s => s.TraceId == traceId && s.Name == "GET /v1/files/{id:guid}");
    }
}
