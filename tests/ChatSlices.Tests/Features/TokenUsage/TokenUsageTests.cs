using System.Net;
using System.Net.Http.Json;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Tests.Features.UploadPdf;
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
        // An older reply, ten days ago, outside a one-week window (in the ledger, as a reply of then was recorded).
        await api.ScalarAsync<object>("""
            INSERT INTO usage_ledger (user_id, kind, model, prompt_tokens, completion_tokens, cost, created_at)
            VALUES ('spender', 'chat', 'fake-gpt', 100, 50, 0.5, now() - interval '10 days')
            """);

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

    private async Task<string> TotalsAsync(HttpClient client)
    {
        var usage = await (await client.GetAsync("/v1/tokens/usage")).ShouldBeJsonAsync(HttpStatusCode.OK);
        return $"{usage.GetProperty("prompt_tokens").GetInt64()}/{usage.GetProperty("completion_tokens").GetInt64()}/{usage.GetProperty("cost").GetDecimal():0.00000000}";
    }

    [Fact]
    public async Task Usage_OutlivesTheSessionsItWasSpentIn_ResetAndDeleted()
    {
        api.Upstream.Script = new FakeScript();
        var client = api.UserClient("forgetter");
        var kept = (await (await client.PostAsJsonAsync("/v1/chat/stream", new { query = "first", model = "fake-gpt", stream = false })).JsonAsync()).Str("session_id");
        (await client.PostAsJsonAsync("/v1/chat/stream", new { query = "second", session_id = kept, stream = false })).EnsureSuccessStatusCode();
        var gone = (await (await client.PostAsJsonAsync("/v1/chat/stream", new { query = "third", model = "fake-gpt", stream = false })).JsonAsync()).Str("session_id");
        var spent = await TotalsAsync(client);
        spent.Should().Be($"33/21/{3 * (11 * ChatApiFactory.InputPrice + 7 * ChatApiFactory.OutputPrice) / 1_000_000m:0.00000000}");

        (await client.PostAsync($"/v1/chat/sessions/{kept}/reset", null)).EnsureSuccessStatusCode();
        (await client.DeleteAsync($"/v1/chat/sessions/{gone}")).EnsureSuccessStatusCode();

        (await TotalsAsync(client)).Should().Be(spent, "a usage report is billing history: the tokens were spent");
        var daily = (await (await client.GetAsync("/v1/tokens/usage")).JsonAsync()).GetProperty("daily");
        daily.EnumerateArray().Single().GetProperty("messages").GetInt64().Should().Be(3);
    }

    [Fact]
    public async Task PromptPreviewTokens_AppearInTheReport_AsTheirOwnKind()
    {
        api.Upstream.Script = new FakeScript();
        var client = api.UserClient("previewing-spender");
        (await client.PostAsJsonAsync("/v1/chat/stream", new { query = "a turn", model = "fake-gpt", stream = false })).EnsureSuccessStatusCode();

        (await client.PostAsJsonAsync("/v1/prompts/preview", new { content = "Say hi to {who}.", variables = new { who = "Ada" }, model = "fake-gpt" }))
            .EnsureSuccessStatusCode();

        var usage = await (await client.GetAsync("/v1/tokens/usage")).ShouldBeJsonAsync(HttpStatusCode.OK);
        usage.GetProperty("prompt_tokens").GetInt64().Should().Be(22);
        usage.GetProperty("completion_tokens").GetInt64().Should().Be(14);
        usage.GetProperty("cost").GetDecimal().Should().Be(2 * (11 * ChatApiFactory.InputPrice + 7 * ChatApiFactory.OutputPrice) / 1_000_000m);
        var kinds = usage.GetProperty("by_kind").EnumerateArray().ToDictionary(k => k.Str("kind"));
        kinds.Keys.Should().BeEquivalentTo(["chat", "preview"]);
        kinds["preview"].GetProperty("prompt_tokens").GetInt64().Should().Be(11);
        kinds["preview"].GetProperty("completion_tokens").GetInt64().Should().Be(7);
        usage.GetProperty("daily")[0].GetProperty("messages").GetInt64().Should().Be(1, "messages counts stored replies; a preview is none");
    }

    [Fact]
    public async Task UploadEmbeddings_CountInTheUploadersReport_EstimatedForALocalModel_AndStayWhenTheFileIsDeleted()
    {
        var client = api.UserClient("uploading-spender");
        var sessionId = (await (await client.PostAsJsonAsync("/v1/chat/sessions", new { model = "local-chat" })).JsonAsync()).Str("id");

        var fileId = (await (await client.PostAsync($"/v1/chat/sessions/{sessionId}/upload", Uploads.Form(UploadPdfTests.Handbook())))
            .ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("file").Str("id");

        // The local embedder reports nothing: the estimate is its own WordPiece count, over every chunk embedded.
        var chunks = await api.ScalarAsync<string[]>("SELECT array_agg(content) FROM chunks WHERE document_id = @id::uuid", new { id = fileId });
        long estimate = chunks!.Sum(TokenCounter.Named(TokenCounter.MiniLmWordPiece).Count);
        estimate.Should().BePositive();
        var usage = await (await client.GetAsync("/v1/tokens/usage")).ShouldBeJsonAsync(HttpStatusCode.OK);
        usage.GetProperty("prompt_tokens").GetInt64().Should().Be(estimate);
        usage.GetProperty("by_kind").EnumerateArray().Single().Str("kind").Should().Be("embedding");
        usage.GetProperty("by_model").EnumerateArray().Single().Str("model").Should().Be("local-embed");
        usage.GetProperty("daily")[0].GetProperty("messages").GetInt64().Should().Be(0);

        (await client.DeleteAsync($"/v1/files/{fileId}")).StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await (await client.GetAsync("/v1/tokens/usage")).JsonAsync()).GetProperty("prompt_tokens").GetInt64().Should().Be(estimate);

        var admin = api.AdminClient("knowledge-admin");
        var assistant = (await (await admin.PostAsJsonAsync("/v1/assistants", new { name = "Usage librarian" })).JsonAsync()).Str("id");
        await (await admin.PostAsync($"/v1/assistants/{assistant}/documents", Uploads.Form(UploadPdfTests.Handbook()))).ShouldBeJsonAsync(HttpStatusCode.Created);
        (await (await admin.GetAsync("/v1/tokens/usage")).JsonAsync()).GetProperty("prompt_tokens").GetInt64()
            .Should().Be(estimate, "the admin's knowledge upload embedded the same chunks, in the admin's report");
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
