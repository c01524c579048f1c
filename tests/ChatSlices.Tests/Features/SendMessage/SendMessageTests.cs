using System.Net;
using System.Net.Http.Json;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.SendMessage;

public class SendMessageTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    private async Task<(HttpClient Client, string SessionId)> SessionAsync(string user)
    {
        var client = api.UserClient(user);
        var session = await (await client.PostAsJsonAsync("/v1/chat/sessions", new { model = "fake-gpt" })).JsonAsync();
        return (client, session.Str("id"));
    }

    private static HttpRequestMessage Turn(string sessionId, object body, string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/chat/sessions/{sessionId}/messages") { Content = JsonContent.Create(body) };
        if (key is not null) request.Headers.Add("Idempotency-Key", key);
        return request;
    }

    private Task<long> StoredMessagesAsync(string sessionId) =>
        api.ScalarAsync<long>("SELECT count(*) FROM chat_messages WHERE session_id = @id::uuid", new { id = sessionId });

    [Fact]
    public async Task Turn_Is201_WithBothStoredMessagesAndUsage()
    {
        api.Upstream.Script = new FakeScript();
        var (client, sessionId) = await SessionAsync("sender");

        var body = await (await client.SendAsync(Turn(sessionId, new { content = "Non-streaming please" }, null))).ShouldBeJsonAsync(HttpStatusCode.Created);

        body.GetProperty("user_message").Str("content").Should().Be("Non-streaming please");
        body.GetProperty("user_message").Str("role").Should().Be("user");
        var reply = body.GetProperty("assistant_message");
        reply.Str("content").Should().Be("Hello from the fake model.");
        reply.Str("status").Should().Be("complete");
        reply.Str("session_id").Should().Be(sessionId);
        reply.GetProperty("prompt_tokens").GetInt32().Should().Be(11);
        reply.GetProperty("cost").GetDecimal().Should().Be((11 * ChatApiFactory.InputPrice + 7 * ChatApiFactory.OutputPrice) / 1_000_000m);
        body.GetProperty("usage").GetProperty("total_tokens").GetInt32().Should().Be(18);
        body.GetProperty("sources").GetArrayLength().Should().Be(0);
        (await StoredMessagesAsync(sessionId)).Should().Be(2);
    }

    [Fact]
    public async Task Validation_NamesContent_AndGuestsAre401()
    {
        var (client, sessionId) = await SessionAsync("sender2");

        var problem = await (await client.SendAsync(Turn(sessionId, new { content = "" }, null))).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
        problem.GetProperty("errors").TryGetProperty("content", out _).Should().BeTrue();
        await (await client.SendAsync(Turn(sessionId, new { content = "x", temperature = 9 }, null))).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
        await (await api.ClientFor(null).SendAsync(Turn(sessionId, new { content = "x" }, null))).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task SameKeyAndBody_ReturnsTheStoredResult_WithoutASecondModelCall()
    {
        api.Upstream.Script = new FakeScript();
        var (client, sessionId) = await SessionAsync("retrier");
        var calls = api.Upstream.Requests.Count;

        var first = await (await client.SendAsync(Turn(sessionId, new { content = "Once only" }, "key-1"))).ShouldBeJsonAsync(HttpStatusCode.Created);
        var second = await (await client.SendAsync(Turn(sessionId, new { content = "Once only" }, "key-1"))).ShouldBeJsonAsync(HttpStatusCode.Created);

        second.GetProperty("assistant_message").Str("id").Should().Be(first.GetProperty("assistant_message").Str("id"));
        second.ToString().Should().Be(first.ToString());
        (api.Upstream.Requests.Count - calls).Should().Be(1);
        (await StoredMessagesAsync(sessionId)).Should().Be(2);
    }

    [Fact]
    public async Task SameKeyWithADifferentBody_Is422()
    {
        api.Upstream.Script = new FakeScript();
        var (client, sessionId) = await SessionAsync("retrier2");
        (await client.SendAsync(Turn(sessionId, new { content = "first" }, "key-2"))).StatusCode.Should().Be(HttpStatusCode.Created);

        var problem = await (await client.SendAsync(Turn(sessionId, new { content = "second" }, "key-2"))).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);

        problem.Str("code").Should().Be("idempotency_key_reused");
        (await StoredMessagesAsync(sessionId)).Should().Be(2);
    }

    [Fact]
    public async Task TwoConcurrentRequestsWithOneKey_MakeOneModelCall_AndStoreOnePair()
    {
        api.Upstream.Script = new FakeScript { Delay = TimeSpan.FromMilliseconds(100) };
        var (client, sessionId) = await SessionAsync("racer");
        var calls = api.Upstream.Requests.Count;

        var responses = await Task.WhenAll(
            client.SendAsync(Turn(sessionId, new { content = "Race" }, "key-3")),
            client.SendAsync(Turn(sessionId, new { content = "Race" }, "key-3")));

        responses.Select(r => r.StatusCode).Should().BeEquivalentTo([HttpStatusCode.Created, HttpStatusCode.Conflict]);
        (await responses.Single(r => r.StatusCode == HttpStatusCode.Conflict).ShouldBeProblemAsync(HttpStatusCode.Conflict)).Str("code").Should().Be("idempotency_key_in_flight");
        (api.Upstream.Requests.Count - calls).Should().Be(1);
        (await StoredMessagesAsync(sessionId)).Should().Be(2);

        var replay = await client.SendAsync(Turn(sessionId, new { content = "Race" }, "key-3"));
        replay.StatusCode.Should().Be(HttpStatusCode.Created, "once answered, the key replays the answer");
    }

    [Fact]
    public async Task AFailedTurn_ReleasesTheKey_SoARetryCanSucceed()
    {
        var (client, sessionId) = await SessionAsync("unlucky");
        api.Upstream.Script = new FakeScript { Status = 500 };
        await (await client.SendAsync(Turn(sessionId, new { content = "Try" }, "key-4"))).ShouldBeProblemAsync(HttpStatusCode.ServiceUnavailable);

        api.Upstream.Script = new FakeScript();
        var retry = await client.SendAsync(Turn(sessionId, new { content = "Try" }, "key-4"));

        retry.StatusCode.Should().Be(HttpStatusCode.Created);
    }

    [Fact]
    public async Task ATurnTheClientLeft_ReleasesTheKey_SoARetryRuns()
    {
        var (client, sessionId) = await SessionAsync("leaver");
        api.Upstream.Script = new FakeScript { Delay = TimeSpan.FromSeconds(2) };
        var calls = api.Upstream.Requests.Count;
        using (var leaving = api.SocketClient(Tokens.For("leaver")))
        using (var leave = new CancellationTokenSource())
        {
            var first = leaving.SendAsync(Turn(sessionId, new { content = "Leave early" }, "key-5"), leave.Token);
            for (var i = 0; i < 100 && api.Upstream.Requests.Count == calls; i++) await Task.Delay(50);
            leave.Cancel();
            await first.Invoking(t => t).Should().ThrowAsync<OperationCanceledException>();
        }
        await api.Upstream.Requests.Skip(calls).Single().Aborted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        for (var i = 0; i < 50 && await api.ScalarAsync<long>("SELECT count(*) FROM idempotency_keys WHERE key = 'key-5'") > 0; i++) await Task.Delay(100);

        api.Upstream.Script = new FakeScript();
        var retry = await client.SendAsync(Turn(sessionId, new { content = "Leave early" }, "key-5"));

        retry.StatusCode.Should().Be(HttpStatusCode.Created, "the first attempt's key was released when its client left");
    }
}
