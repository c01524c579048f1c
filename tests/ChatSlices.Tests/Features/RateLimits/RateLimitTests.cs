using System.Net;
using System.Net.Http.Json;
using ChatSlices.Tests.Support;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace ChatSlices.Tests.Features.RateLimits;

public class RateLimitTests
{
    private static async Task<ChatApiFactory> StartAsync(Action<ChatApiFactory> configure, MutableClock? clock = null)
    {
        var api = new ChatApiFactory();
        configure(api);
        if (clock is not null) api.ReplaceServices = services => services.AddSingleton<TimeProvider>(clock);
        await api.InitializeAsync();
        return api;
    }

    [Fact]
    public async Task EachTier_HasItsOwnRequestsPerMinute_WithRateLimitHeaders_And429WithRetryAfter()
    {
        var api = await StartAsync(a => a.With("RateLimits:Tiers:free:RequestsPerMinute", "3").With("RateLimits:Tiers:pro:RequestsPerMinute", "6"));
        try
        {
            var free = api.SocketClient(Tokens.For("free-user"));
            var pro = api.SocketClient(Tokens.For("pro-user", tier: "pro"));

            var freeStatuses = new List<HttpStatusCode>();
            HttpResponseMessage? first = null, refused = null;
            for (var i = 0; i < 4; i++)
            {
                var response = await free.GetAsync("/v1/models");
                first ??= response;
                if (response.StatusCode == HttpStatusCode.TooManyRequests) refused ??= response;
                freeStatuses.Add(response.StatusCode);
            }
            var proStatuses = new List<HttpStatusCode>();
            for (var i = 0; i < 6; i++) proStatuses.Add((await pro.GetAsync("/v1/models")).StatusCode);

            freeStatuses.Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
            proStatuses.Should().AllBeEquivalentTo(HttpStatusCode.OK);
            first!.Headers.GetValues("RateLimit-Policy").Single().Should().Be("\"requests\";q=3;w=60");
            first.Headers.GetValues("RateLimit").Single().Should().StartWith("\"requests\";r=2;");
            var problem = await refused!.ShouldBeProblemAsync(HttpStatusCode.TooManyRequests);
            problem.Str("code").Should().Be("rate_limited");
            refused!.Headers.RetryAfter!.Delta!.Value.TotalSeconds.Should().BePositive();
            refused!.Headers.GetValues("RateLimit").Single().Should().StartWith("\"requests\";r=0;");
            (await free.GetAsync("/health/live")).StatusCode.Should().Be(HttpStatusCode.OK, "operations routes are not limited");
        }
        finally { await api.DisposeAsync(); }
    }

    [Fact]
    public async Task Guests_ArePartitionedByAddress_AndForwardedForCountsOnlyFromTrustedProxies()
    {
        var untrusted = await StartAsync(a => a.With("RateLimits:Tiers:guest:RequestsPerMinute", "2"));
        var trusted = await StartAsync(a => a.With("RateLimits:Tiers:guest:RequestsPerMinute", "2").With("Http:TrustedProxies:0", "127.0.0.1"));
        try
        {
            async Task<HttpStatusCode> AsGuest(ChatApiFactory api, string forwardedFor)
            {
                var request = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
                request.Headers.Add("X-Forwarded-For", forwardedFor);
                return (await api.SocketClient().SendAsync(request)).StatusCode;
            }

            var spoofed = new[] { await AsGuest(untrusted, "10.0.0.1"), await AsGuest(untrusted, "10.0.0.2"), await AsGuest(untrusted, "10.0.0.3") };
            var forwarded = new[] { await AsGuest(trusted, "10.0.0.1"), await AsGuest(trusted, "10.0.0.1"), await AsGuest(trusted, "10.0.0.1"), await AsGuest(trusted, "10.0.0.2") };

            spoofed.Should().Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], "an untrusted peer cannot pick its own partition");
            forwarded.Should().Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.OK], "behind the gateway each client address has its own budget");
        }
        finally
        {
            await untrusted.DisposeAsync();
            await trusted.DisposeAsync();
        }
    }

    [Fact]
    public async Task ConcurrentStreams_AreCappedPerUser()
    {
        var api = await StartAsync(a => a.With("RateLimits:Tiers:free:ConcurrentStreams", "1"));
        try
        {
            api.Upstream.Script = new FakeScript { Chunks = ["slow", " reply"], Delay = TimeSpan.FromMilliseconds(700) };
            var client = api.SocketClient(Tokens.For("streamer"));
            var holding = await client.SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "first" }), HttpCompletionOption.ResponseHeadersRead);

            var second = await client.PostAsJsonAsync("/v1/chat/stream", new { query = "second" });
            var otherUser = await api.SocketClient(Tokens.For("someone-else")).SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "mine" }), HttpCompletionOption.ResponseHeadersRead);

            holding.StatusCode.Should().Be(HttpStatusCode.OK);
            await second.ShouldBeProblemAsync(HttpStatusCode.TooManyRequests);
            otherUser.StatusCode.Should().Be(HttpStatusCode.OK);
            await holding.Content.ReadAsStringAsync(SseReader.Deadline());
            (await client.PostAsJsonAsync("/v1/chat/stream", new { query = "after", stream = false })).StatusCode.Should().Be(HttpStatusCode.OK, "the first stream has ended");
        }
        finally { await api.DisposeAsync(); }
    }

    [Fact]
    public async Task TheNonStreamingModelCalls_CountAgainstConcurrentStreams_Too()
    {
        var api = await StartAsync(a => a.With("RateLimits:Tiers:free:ConcurrentStreams", "1"));
        try
        {
            var client = api.SocketClient(Tokens.For("holder"));
            var session = (await (await client.PostAsJsonAsync("/v1/chat/sessions", new { title = "held" })).ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");
            api.Upstream.Script = new FakeScript { Chunks = ["slow", " reply"], Delay = TimeSpan.FromMilliseconds(700) };
            var holding = await client.SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "first" }), HttpCompletionOption.ResponseHeadersRead);

            var message = await client.PostAsJsonAsync($"/v1/chat/sessions/{session}/messages", new { content = "meanwhile" });
            var preview = await client.PostAsJsonAsync("/v1/prompts/preview", new { content = "Say {word}", variables = new { word = "hi" } });

            holding.StatusCode.Should().Be(HttpStatusCode.OK);
            await message.ShouldBeProblemAsync(HttpStatusCode.TooManyRequests);
            await preview.ShouldBeProblemAsync(HttpStatusCode.TooManyRequests);
            await holding.Content.ReadAsStringAsync();
        }
        finally { await api.DisposeAsync(); }
    }

    [Fact]
    public async Task DailyTokenQuota_Holds_Under50ConcurrentRequests()
    {
        const long limit = 400;
        var api = await StartAsync(a => a.With("RateLimits:Tiers:free:TokensPerDay", limit.ToString()));
        try
        {
            api.Upstream.Script = new FakeScript(); // 11 + 7 tokens a reply
            var client = api.SocketClient(Tokens.For("spender"));

            var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(i =>
                client.PostAsJsonAsync("/v1/chat/stream", new { query = $"q{i}", model = "fake-gpt", max_tokens = 10, stream = false })));

            var answered = responses.Count(r => r.StatusCode == HttpStatusCode.OK);
            var refused = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
            var others = await Task.WhenAll(responses.Where(r => r.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.TooManyRequests))
                .Select(async r => $"{(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}"));
            others.Should().BeEmpty("every request is answered or refused");
            answered.Should().BePositive();
            refused.Should().NotBeEmpty();
            (await refused[0].ShouldBeProblemAsync(HttpStatusCode.TooManyRequests)).Str("code").Should().Be("token_quota_exceeded");
            refused[0].Headers.RetryAfter.Should().NotBeNull();
            var spent = await api.ScalarAsync<long>("SELECT coalesce(sum(prompt_tokens + completion_tokens), 0) FROM chat_messages WHERE role = 'assistant'");
            spent.Should().Be(answered * 18L).And.BeLessThanOrEqualTo(limit);
            (await api.ScalarAsync<long>("SELECT tokens FROM usage_daily WHERE subject = 'spender'")).Should().Be(spent, "reservations settle to what was used");
        }
        finally { await api.DisposeAsync(); }
    }

    [Fact]
    public async Task DailyTokenQuota_ResetsAtTheUtcDayBoundary_AndARefusedStreamNeverStarts()
    {
        var clock = new MutableClock(new DateTimeOffset(2026, 11, 22, 23, 59, 0, TimeSpan.Zero));
        var api = await StartAsync(a => a.With("RateLimits:Tiers:free:TokensPerDay", "30"), clock);
        try
        {
            api.Upstream.Script = new FakeScript();
            var client = api.SocketClient(Tokens.For("nightowl"));
            (await client.PostAsJsonAsync("/v1/chat/stream", new { query = "one", model = "fake-gpt", max_tokens = 10, stream = false })).StatusCode.Should().Be(HttpStatusCode.OK);

            var refused = await client.SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "two", model = "fake-gpt", max_tokens = 10 }), HttpCompletionOption.ResponseHeadersRead);
            await refused.ShouldBeProblemAsync(HttpStatusCode.TooManyRequests);
            refused.Headers.RetryAfter!.Delta!.Value.TotalSeconds.Should().BeApproximately(60, 1, "a minute is left of the UTC day");

            clock.Now = clock.Now.AddMinutes(2);
            (await client.PostAsJsonAsync("/v1/chat/stream", new { query = "three", model = "fake-gpt", max_tokens = 10, stream = false })).StatusCode.Should().Be(HttpStatusCode.OK);
        }
        finally { await api.DisposeAsync(); }
    }

    [Fact]
    public async Task CompletionsAndSessionMessages_AreLimitedToo_With429AndRetryAfter_EachInItsRoutesErrorShape()
    {
        var api = await StartAsync(a => a.With("RateLimits:Tiers:free:RequestsPerMinute", "2"));
        try
        {
            api.Upstream.Script = new FakeScript();
            var completer = api.SocketClient(Tokens.For("completer"));
            var completions = new List<HttpResponseMessage>();
            for (var i = 0; i < 3; i++)
                completions.Add(await completer.PostAsJsonAsync("/v1/chat/completions", new { model = "fake-gpt", messages = new[] { new { role = "user", content = $"q{i}" } } }));
            var messenger = api.SocketClient(Tokens.For("messenger"));
            var session = (await (await messenger.PostAsJsonAsync("/v1/chat/sessions", new { model = "fake-gpt" })).ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");
            var first = await messenger.PostAsJsonAsync($"/v1/chat/sessions/{session}/messages", new { content = "one" });
            var second = await messenger.PostAsJsonAsync($"/v1/chat/sessions/{session}/messages", new { content = "two" });

            completions.Select(r => r.StatusCode).Should().Equal(HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
            var refused = completions[2];
            refused.Content.Headers.ContentType!.MediaType.Should().Be("application/json", "OpenAI clients read OpenAI's error shape");
            var error = (await refused.JsonAsync()).GetProperty("error");
            error.Str("type").Should().Be("rate_limit_error");
            error.Str("code").Should().Be("rate_limited");
            refused.Headers.RetryAfter!.Delta!.Value.TotalSeconds.Should().BePositive();
            first.StatusCode.Should().Be(HttpStatusCode.Created);
            (await second.ShouldBeProblemAsync(HttpStatusCode.TooManyRequests)).Str("code").Should().Be("rate_limited");
            second.Headers.RetryAfter!.Delta!.Value.TotalSeconds.Should().BePositive();
            (await api.ScalarAsync<long>("SELECT count(*) FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id WHERE s.id = @id::uuid", new { id = session }))
                .Should().Be(2, "the refused turn stored nothing");
        }
        finally { await api.DisposeAsync(); }
    }

    [Fact]
    public async Task CompletionsAndSessionMessages_AreHeldToTheDailyTokenQuota()
    {
        // 20 a day: a first turn reserves its prompt and max_tokens (10) and uses 18; a second cannot fit beside it, settled or not.
        // (No retrieval: a session's turn would otherwise reserve half the model's window for the passages it may add.)
        var api = await StartAsync(a => a.With("RateLimits:Tiers:pro:TokensPerDay", "20"));
        try
        {
            api.Upstream.Script = new FakeScript(); // 11 + 7 tokens a reply
            var completer = api.SocketClient(Tokens.For("metered-completer", tier: "pro"));
            object Completion(string q) => new { model = "fake-gpt", max_tokens = 10, messages = new[] { new { role = "user", content = q } } };
            var paid = await completer.PostAsJsonAsync("/v1/chat/completions", Completion("one"));
            var refusedCompletion = await completer.PostAsJsonAsync("/v1/chat/completions", Completion("two"));
            var messenger = api.SocketClient(Tokens.For("metered-messenger", tier: "pro"));
            var session = (await (await messenger.PostAsJsonAsync("/v1/chat/sessions", new { model = "fake-gpt" })).ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");
            var answered = await messenger.PostAsJsonAsync($"/v1/chat/sessions/{session}/messages", new { content = "one", max_tokens = 10, context_mode = "none" });
            var refusedMessage = await messenger.PostAsJsonAsync($"/v1/chat/sessions/{session}/messages", new { content = "two", max_tokens = 10, context_mode = "none" });

            paid.StatusCode.Should().Be(HttpStatusCode.OK);
            refusedCompletion.StatusCode.Should().Be(HttpStatusCode.TooManyRequests);
            var error = (await refusedCompletion.JsonAsync()).GetProperty("error");
            error.Str("code").Should().Be("token_quota_exceeded");
            error.Str("type").Should().Be("rate_limit_error");
            refusedCompletion.Headers.RetryAfter.Should().NotBeNull();
            answered.StatusCode.Should().Be(HttpStatusCode.Created);
            (await refusedMessage.ShouldBeProblemAsync(HttpStatusCode.TooManyRequests)).Str("code").Should().Be("token_quota_exceeded");
            refusedMessage.Headers.RetryAfter.Should().NotBeNull();
            (await api.ScalarAsync<long>("SELECT tokens FROM usage_daily WHERE subject = 'metered-messenger'")).Should().Be(18, "the refused turn reserved nothing");
        }
        finally { await api.DisposeAsync(); }
    }
}
