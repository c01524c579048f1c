using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Infrastructure;

/// <summary><c>Http:PathBase</c>: behind a gateway that exposes the service under <c>/api</c>, every route, link and error lives under it.</summary>
public class PathBaseTests(PathBaseTests.BehindAGateway api) : IClassFixture<PathBaseTests.BehindAGateway>
{
    public sealed class BehindAGateway : ChatApiFactory
    {
        public BehindAGateway() => With("Http:PathBase", "/api");
    }

    [Fact]
    public async Task ApiAndOperationsRoutes_AnswerUnderThePrefix()
    {
        var client = api.SocketClient(Tokens.For("gatewayed"));

        (await client.GetAsync("/api/v1/models")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await (await client.GetAsync("/api/v1/users/me")).ShouldBeJsonAsync(HttpStatusCode.OK)).Str("id").Should().Be("gatewayed");
        (await client.GetAsync("/api/health/live")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await client.GetAsync("/api/health/ready")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await client.GetAsync("/api/v1/models")).Headers.Contains("RateLimit-Policy").Should().BeTrue("the API routes are still rate limited");
    }

    [Fact]
    public async Task ACreatedObject_IsLocatedUnderThePrefix()
    {
        var client = api.SocketClient(Tokens.For("gatewayed"));

        var created = await client.PostAsJsonAsync("/api/v1/chat/sessions", new { title = "Behind the gateway" });

        var session = await created.ShouldBeJsonAsync(HttpStatusCode.Created);
        created.Headers.Location!.OriginalString.Should().Be($"/api/v1/chat/sessions/{session.Str("id")}");
        (await client.GetAsync(created.Headers.Location)).StatusCode.Should().Be(HttpStatusCode.OK, "the link leads back to the session");
    }

    [Fact]
    public async Task Errors_AreTheSameUnderThePrefix()
    {
        var guest = api.SocketClient();

        await (await guest.GetAsync("/api/v1/chat/history")).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
        await (await api.SocketClient(Tokens.For("gatewayed")).GetAsync($"/api/v1/chat/sessions/{Guid.NewGuid()}")).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        var completions = await guest.PostAsync("/api/v1/chat/completions", new StringContent("{}", Encoding.UTF8, "text/plain"));
        completions.StatusCode.Should().Be(HttpStatusCode.UnsupportedMediaType);
        JsonDocument.Parse(await completions.Content.ReadAsStringAsync()).RootElement.GetProperty("error").Str("type").Should().Be("invalid_request_error",
            "the OpenAI route keeps OpenAI's error shape under the prefix");
    }

    [Fact]
    public async Task TheApiReference_LoadsItsBundleAndDocumentUnderThePrefix()
    {
        var client = api.SocketClient();

        var page = await client.GetAsync("/api/scalar");
        var html = await page.Content.ReadAsStringAsync();
        var document = await (await client.GetAsync("/api/openapi/v1.json")).ShouldBeJsonAsync(HttpStatusCode.OK);

        // Scalar's page takes its script relative to itself and finds the document from the base it is served under.
        page.RequestMessage!.RequestUri!.AbsolutePath.Should().Be("/api/scalar/");
        html.Should().Contain("src=\"scalar.js\"").And.Contain("initialize(");
        (await client.GetAsync("/api/scalar/scalar.js")).StatusCode.Should().Be(HttpStatusCode.OK);
        document.GetProperty("paths").TryGetProperty("/v1/chat/history", out _).Should().BeTrue();
        document.GetProperty("servers").EnumerateArray().Select(s => s.Str("url")).Should().ContainSingle().Which.Should().EndWith("/api",
            "a client generated from the document calls the service through the gateway");
    }
}
