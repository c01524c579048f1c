using System.Net;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Infrastructure.Telemetry;

/// <summary>The service on a real socket, with loopback left out of the networks that may read <c>/metrics</c>.</summary>
public sealed class LoopbackNotAllowedFactory : ChatApiFactory
{
    public LoopbackNotAllowedFactory() => With("Telemetry:MetricsAllowedNetworks:0", "192.0.2.0/24");
}

public class MetricsAccessTests(LoopbackNotAllowedFactory api) : IClassFixture<LoopbackNotAllowedFactory>
{
    [Fact]
    public async Task Metrics_FromAnAddressOutsideTheAllowedNetworks_Is404_LikeAnyUnknownRoute()
    {
        var response = await api.SocketClient().GetAsync("/metrics");

        response.StatusCode.Should().Be(HttpStatusCode.NotFound);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/problem+json");
        var unknown = await api.SocketClient().GetAsync("/no-such-route");
        unknown.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Metrics_IsNotInTheOpenApiDocument()
    {
        var document = await api.SocketClient().GetStringAsync("/openapi/v1.json");

        document.Should().Contain("\"/v1/chat/stream\"").And.NotContain("\"/metrics\"");
    }
}
