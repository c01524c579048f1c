using System.Net;
using System.Text.Json;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Infrastructure.Telemetry;

[Collection(TelemetryCollection.Name)]
public class RecordContentTests(RecordContentApiFactory api) : IClassFixture<RecordContentApiFactory>
{
    [Fact]
    public async Task ChatSpan_HoldsThePromptAndTheReply_WhenRecordContentIsSet()
    {
        api.Upstream.Script = new FakeScript { Chunks = ["Recorded", " reply."] };
        using var gateway = TelemetryApiFactory.GatewayTrace();

        var response = await api.SocketClient(Tokens.For("recorded-user")).SendAsync(
            ChatApiFactory.Post("/v1/chat/stream", new { query = "a question worth keeping", model = TelemetryApiFactory.Model, stream = false }));
        response.StatusCode.Should().Be(HttpStatusCode.OK);

        var chat = await api.Otlp.WaitForAsync(s => s.TraceId == gateway.TraceId.ToHexString() && s.Name.StartsWith("chat "));
        var input = JsonDocument.Parse((string)chat.Attributes["gen_ai.input.messages"]!).RootElement;
        input.EnumerateArray().Last().GetProperty("role").GetString().Should().Be("user");
        input.EnumerateArray().Last().GetProperty("parts")[0].GetProperty("content").GetString().Should().Be("a question worth keeping");
        var output = JsonDocument.Parse((string)chat.Attributes["gen_ai.output.messages"]!).RootElement;
        output[0].GetProperty("parts")[0].GetProperty("content").GetString().Should().Be("Recorded reply.");
    }
}
