using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Infrastructure;

/// <summary>
/// What the service sends the model provider, and how each kind of provider failure reaches the client: an <c>error</c>
/// event with a stable code in a stream, a problem with that code and the documented status otherwise.
/// </summary>
public class ProviderTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    private async Task<List<SseEvent>> StreamAsync(string user, string query)
    {
        var response = await api.SocketClient(Tokens.For(user)).SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query, model = "fake-gpt" }), HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.Should().Be(HttpStatusCode.OK);
        return await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync();
    }

    [Fact]
    public async Task TheConfiguredApiKey_ReachesTheProvider_AndTheCallersTokenDoesNot()
    {
        api.Upstream.Script = new FakeScript();
        var token = Tokens.For("key-checker");
        var before = api.Upstream.Requests.Count;

        (await api.SocketClient(token).PostAsJsonAsync("/v1/chat/stream", new { query = "Who am I to you?", model = "fake-gpt", stream = false }))
            .StatusCode.Should().Be(HttpStatusCode.OK);

        var request = api.Upstream.Requests.Skip(before).Single();
        request.Bearer.Should().Be("fake-key", "AI:ApiKey is the service's credential at the provider");
        request.Authorization.Should().NotContain(token);
    }

    [Theory]
    [InlineData(400, "provider_bad_request", HttpStatusCode.BadGateway)]
    [InlineData(422, "provider_bad_request", HttpStatusCode.BadGateway)]
    [InlineData(404, "provider_model_not_found", HttpStatusCode.BadGateway)]
    [InlineData(403, "provider_auth_failed", HttpStatusCode.BadGateway)]
    [InlineData(503, "provider_unavailable", HttpStatusCode.ServiceUnavailable)]
    public async Task AProviderRefusal_IsAnErrorEventInAStream_AndAProblemOtherwise_WithTheProvidersCode(int upstream, string code, HttpStatusCode status)
    {
        api.Upstream.Script = new FakeScript { Status = upstream };

        var events = await StreamAsync("refused", $"Refuse me with {upstream}");
        var problem = await (await api.SocketClient(Tokens.For("refused")).PostAsJsonAsync("/v1/chat/stream", new { query = "And once more", model = "fake-gpt", stream = false }))
            .ShouldBeProblemAsync(status);

        events.Select(e => e.Event).Should().Equal(["session", "sources", "error", "done"]);
        events[2].Json.Str("code").Should().Be(code);
        events[2].Json.Str("message").Should().NotContain("fake failure", "the provider's own words are not passed on");
        events[^1].Json.GetProperty("completed").GetBoolean().Should().BeFalse();
        problem.Str("code").Should().Be(code);
        problem.GetRawText().Should().NotContain("fake failure");
    }

    [Theory]
    [InlineData("<html><body>502 Bad Gateway</body></html>", "text/html")]
    [InlineData("""{"id": "not-a-stream", "choices": "none"}""", "application/json")]
    [InlineData("data: {\"choices\": [{\"delta\": 42}]}\n\n", "text/event-stream")]
    public async Task AnAnswerThatIsNoCompletion_IsAProviderError_NotAnEmptyReply(string body, string contentType)
    {
        api.Upstream.Script = new FakeScript { Body = body, BodyContentType = contentType };

        var events = await StreamAsync("puzzled", "What did they say?");
        var response = await api.SocketClient(Tokens.For("puzzled")).PostAsJsonAsync("/v1/chat/stream", new { query = "Say it again", model = "fake-gpt", stream = false });

        events.Select(e => e.Event).Should().Equal(["session", "sources", "error", "done"], string.Join("\n", events.Select(e => $"{e.Event}: {e.Data}")));
        events[2].Json.Str("code").Should().StartWith("provider_");
        ((int)response.StatusCode).Should().BeOneOf([502, 503], await response.Content.ReadAsStringAsync());
        (await response.ShouldBeProblemAsync(response.StatusCode)).Str("code").Should().StartWith("provider_");
    }
}

/// <summary>A provider that cannot be reached (nothing listens at <c>AI:Endpoint</c>) is <c>provider_unavailable</c>.</summary>
public class UnreachableProviderTests : IAsyncLifetime
{
    private readonly ChatApiFactory _api = new();

    public async Task InitializeAsync()
    {
        // A loopback port that was free a moment ago: connecting to it is refused.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        _api.With("AI:Endpoint", $"http://127.0.0.1:{port}/v1");
        await _api.InitializeAsync();
    }

    public async Task DisposeAsync() => await _api.DisposeAsync();

    [Fact]
    public async Task AnUnreachableProvider_IsProviderUnavailable_503OrAnErrorEvent()
    {
        var client = _api.SocketClient(Tokens.For("stranded"));

        var response = await client.SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "Anyone there?", model = "fake-gpt" }), HttpCompletionOption.ResponseHeadersRead);
        var events = await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync();
        var problem = await (await client.PostAsJsonAsync("/v1/chat/stream", new { query = "Hello?", model = "fake-gpt", stream = false }))
            .ShouldBeProblemAsync(HttpStatusCode.ServiceUnavailable);

        events.Select(e => e.Event).Should().Equal(["session", "sources", "error", "done"]);
        events[2].Json.Str("code").Should().Be("provider_unavailable");
        problem.Str("code").Should().Be("provider_unavailable");
        (await client.PostAsJsonAsync("/v1/chat/stream", new { query = "Offline then", model = "local-chat", stream = false }))
            .StatusCode.Should().Be(HttpStatusCode.OK, "the local model needs no provider");
    }
}
