using System.Net;
using System.Net.Http.Json;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.TokenUsage;

public class TokenUsageTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    [Fact]
    public async Task Usage_SumsTheCallersStoredReplies_ByModelAndDay_WithCatalogCosts()
    {
        api.Upstream.Script = new FakeScript();
        var client = api.UserClient("spender");
        for (var i = 0; i < 2; i++)
            (await client.PostAsJsonAsync("/v1/chat/stream", new { query = $"paid {i}", model = "fake-gpt", stream = false })).EnsureSuccessStatusCode();
        (await client.PostAsJsonAsync("/v1/chat/stream", new { query = "free", model = "local-chat", stream = false })).EnsureSuccessStatusCode();
        (await api.UserClient("someone-else").PostAsJsonAsync("/v1/chat/stream", new { query = "not mine", model = "fake-gpt", stream = false })).EnsureSuccessStatusCode();
        // An older reply, ten days ago, outside a one-week window.
        var sessionId = await api.ScalarAsync<Guid>("SELECT id FROM chat_sessions WHERE user_id = 'spender' LIMIT 1");
        await api.ScalarAsync<object>("""
            INSERT INTO chat_messages (id, session_id, role, content, model, prompt_tokens, completion_tokens, cost, created_at)
            VALUES (gen_random_uuid(), @id, 'assistant', 'old', 'fake-gpt', 100, 50, 0.5, now() - interval '10 days')
            """, new { id = sessionId });

        var today = DateTime.UtcNow.ToString("yyyy-MM-dd");
        var week = await (await client.GetAsync($"/v1/tokens/usage?start_date={DateTime.UtcNow.AddDays(-6):yyyy-MM-dd}&end_date={today}")).ShouldBeJsonAsync(HttpStatusCode.OK);

        var expected = await api.ScalarAsync<string>("""
            SELECT sum(m.prompt_tokens) || '/' || sum(m.completion_tokens) || '/' || sum(m.cost) FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id
            WHERE s.user_id = 'spender' AND m.role = 'assistant' AND m.created_at > now() - interval '6 days'
            """);
        $"{week.GetProperty("prompt_tokens").GetInt64()}/{week.GetProperty("completion_tokens").GetInt64()}/{week.GetProperty("cost").GetDecimal():0.00000000}".Should().Be(expected);
        week.GetProperty("total_tokens").GetInt64().Should().Be(week.GetProperty("prompt_tokens").GetInt64() + week.GetProperty("completion_tokens").GetInt64());
        week.Str("end_date").Should().Be(today);

        var fake = week.GetProperty("by_model").EnumerateArray().Single(m => m.Str("model") == "fake-gpt");
        fake.GetProperty("prompt_tokens").GetInt64().Should().Be(22);
        fake.GetProperty("cost").GetDecimal().Should().Be(2 * (11 * ChatApiFactory.InputPrice + 7 * ChatApiFactory.OutputPrice) / 1_000_000m);
        week.GetProperty("by_model").EnumerateArray().Select(m => m.Str("model")).Should().BeEquivalentTo(["fake-gpt", "local-chat"]);
        var daily = week.GetProperty("daily").EnumerateArray().ToList();
        daily.Should().ContainSingle().Which.Str("date").Should().Be(today);
        daily[0].GetProperty("messages").GetInt64().Should().Be(3);

        var month = await (await client.GetAsync("/v1/tokens/usage")).ShouldBeJsonAsync(HttpStatusCode.OK);
        month.GetProperty("daily").GetArrayLength().Should().Be(2, "the default is the last 30 days, and days without use are left out");
        month.GetProperty("prompt_tokens").GetInt64().Should().Be(week.GetProperty("prompt_tokens").GetInt64() + 100);
    }

    [Theory]
    [InlineData("?start_date=last-week")]
    [InlineData("?end_date=2026-02-30")]
    [InlineData("?start_date=2026-03-01&end_date=2026-02-01")]
    public async Task InvalidDates_Are422(string query)
    {
        await (await api.UserClient("spender").GetAsync("/v1/tokens/usage" + query)).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
    }

    [Theory]
    [InlineData("?end_date=9999-12-31", "end_date")]
    [InlineData("?end_date=0001-01-05", "end_date")]
    [InlineData("?start_date=0001-01-01&end_date=0001-01-05", "start_date")]
    [InlineData("?start_date=9999-12-31&end_date=9999-12-31", "end_date")]
    public async Task DatesOutOfRange_Are422NamingTheField(string query, string field)
    {
        var problem = await (await api.UserClient("spender").GetAsync("/v1/tokens/usage" + query)).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);

        problem.GetProperty("errors").TryGetProperty(field, out _).Should().BeTrue(problem.ToString());
    }
}
