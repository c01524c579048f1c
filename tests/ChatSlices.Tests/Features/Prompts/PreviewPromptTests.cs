using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.Prompts;

public class PreviewPromptTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    private const string FakeReply = "Hello from the fake model.";

    /// <summary>Both models used here count in o200k_base: a one-message prompt and the reply, by the reference tokenizer.</summary>
    private static long Tokens(string prompt, string reply)
    {
        var o200k = Microsoft.ML.Tokenizers.TiktokenTokenizer.CreateForEncoding("o200k_base");
        return o200k.CountTokens(prompt) + TokenCounter.PerMessageOverhead + o200k.CountTokens(reply);
    }

    private static async Task<string> CreateAsync(HttpClient client, string content) =>
        (await (await client.PostAsJsonAsync("/v1/prompts", new { title = "Previewed", content })).ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");

    private Task<int> UsageCountAsync(string id) =>
        api.ScalarAsync<int>("SELECT usage_count FROM prompts WHERE id = @id::uuid", new { id });

    [Fact]
    public async Task Preview_WithEveryVariable_SendsTheFilledTextToTheModelOnce_AndReportsItsReplyAndUsage()
    {
        api.Upstream.Script = new FakeScript();
        var client = api.UserClient("previewer");
        var id = await CreateAsync(client, "Tell {who} about {what}, as {{JSON}}, and greet {who}.");
        var before = api.Upstream.Requests.Count;

        var preview = await (await client.PostAsJsonAsync("/v1/prompts/preview", new { prompt_id = id, variables = new { who = "Ada", what = "graphs" } }))
            .ShouldBeJsonAsync(HttpStatusCode.OK);

        preview.Str("rendered").Should().Be("Tell Ada about graphs, as {JSON}, and greet Ada.");
        preview.Str("preview").Should().Be(FakeReply);
        preview.GetProperty("tokens_used").GetInt64().Should().Be(11 + 7);
        preview.Str("model_used").Should().Be("fake-gpt");
        preview.GetProperty("missing_variables").GetArrayLength().Should().Be(0);

        var sent = api.Upstream.Requests.Skip(before).Should().ContainSingle().Subject.Body;
        sent["model"]!.GetValue<string>().Should().Be("gpt-fake");
        var messages = sent["messages"]!.AsArray();
        messages.Should().ContainSingle();
        messages[0]!["role"]!.GetValue<string>().Should().Be("user");
        messages[0]!["content"]!.ToJsonString().Should().Contain("Tell Ada about graphs, as {JSON}, and greet Ada.");
        (sent["max_completion_tokens"] ?? sent["max_tokens"])!.GetValue<int>().Should().Be(512);
    }

    [Fact]
    public async Task Preview_WithMissingVariables_ReturnsThePartlyFilledText_AndTheMissingNames_WithoutCallingAModel()
    {
        var client = api.UserClient("forgetful");
        var id = await CreateAsync(client, "Dear {name}, your {item} ships {when}. {{Braces}} stay. Bye {name}.");
        var before = api.Upstream.Requests.Count;

        var preview = await (await client.PostAsJsonAsync("/v1/prompts/preview", new { prompt_id = id, variables = new { item = "parcel", unused = "x" } }))
            .ShouldBeJsonAsync(HttpStatusCode.OK);

        preview.Str("rendered").Should().Be("Dear {name}, your parcel ships {when}. {Braces} stay. Bye {name}.");
        preview.GetProperty("missing_variables").EnumerateArray().Select(v => v.GetString()).Should().Equal("name", "when");
        preview.GetProperty("preview").ValueKind.Should().Be(JsonValueKind.Null);
        preview.GetProperty("tokens_used").GetInt64().Should().Be(0);
        preview.GetProperty("model_used").ValueKind.Should().Be(JsonValueKind.Null);
        api.Upstream.Requests.Count.Should().Be(before);

        var nullValue = await (await client.PostAsJsonAsync("/v1/prompts/preview", new { content = "Hi {name}", variables = new { name = (string?)null } }))
            .ShouldBeJsonAsync(HttpStatusCode.OK);
        nullValue.GetProperty("missing_variables")[0].GetString().Should().Be("name");
        api.Upstream.Requests.Count.Should().Be(before);
    }

    [Fact]
    public async Task UsageCount_GrowsByOneOnEachPreviewOfAStoredPrompt_IncludingTemplates()
    {
        api.Upstream.Script = new FakeScript();
        var client = api.UserClient("counter");
        var id = await CreateAsync(client, "Count {n}");
        var summarise = PromptsTests.SummariseTemplate.ToString();
        var templateBefore = await UsageCountAsync(summarise);

        for (var i = 0; i < 3; i++)
            (await client.PostAsJsonAsync("/v1/prompts/preview", new { prompt_id = id, variables = new { n = i } })).EnsureSuccessStatusCode();
        (await client.PostAsJsonAsync("/v1/prompts/preview", new { prompt_id = id })).EnsureSuccessStatusCode();
        (await client.PostAsJsonAsync("/v1/prompts/preview", new { prompt_id = summarise, variables = new { max_words = 50, audience = "kids", text = "Once upon a time." } }))
            .EnsureSuccessStatusCode();

        (await UsageCountAsync(id)).Should().Be(4);
        var read = await (await client.GetAsync($"/v1/prompts/{id}")).ShouldBeJsonAsync(HttpStatusCode.OK);
        read.GetProperty("usage_count").GetInt32().Should().Be(4);
        read.GetProperty("updated_at").GetDateTime().Should().Be(read.GetProperty("created_at").GetDateTime(), "a use is not an edit");
        (await UsageCountAsync(summarise)).Should().Be(templateBefore + 1);
        var sent = api.Upstream.Requests.Last().Body["messages"]![0]!["content"]!.ToJsonString();
        sent.Should().Contain("at most 50 words for kids").And.Contain("Once upon a time.");
    }

    [Fact]
    public async Task ARefusedPreview_DoesNotCountAsAUse()
    {
        var client = api.UserClient("overfiller");
        var id = await CreateAsync(client, string.Concat(Enumerable.Repeat("{x}", 100)));

        await (await client.PostAsJsonAsync("/v1/prompts/preview", new { prompt_id = id, variables = new { x = new string('a', 2_000) } }))
            .ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);

        (await UsageCountAsync(id)).Should().Be(0);
    }

    [Fact]
    public async Task Preview_OfUnsavedContent_WorksWithTheOfflineModel_AndEstimatesItsUsage()
    {
        var client = api.UserClient("drafter");

        var preview = await (await client.PostAsJsonAsync("/v1/prompts/preview", new
        {
            content = "Explain {topic} in {n} words",
            variables = new { topic = "tides", n = 10 },
            model = "local-chat",
        })).ShouldBeJsonAsync(HttpStatusCode.OK);

        preview.Str("rendered").Should().Be("Explain tides in 10 words");
        preview.Str("preview").Should().StartWith(LocalChatCompletion.Disclaimer).And.Contain("Explain tides in 10 words");
        preview.Str("model_used").Should().Be("local-chat");
        preview.GetProperty("tokens_used").GetInt64().Should().Be(
            Tokens("Explain tides in 10 words", preview.Str("preview")));
        (await api.ScalarAsync<long>("SELECT count(*) FROM prompts WHERE owner_id = 'drafter'")).Should().Be(0, "previewing unsaved content saves nothing");
    }

    [Fact]
    public async Task Preview_WhenTheProviderReportsNoUsage_EstimatesIt()
    {
        api.Upstream.Script = new FakeScript { SendUsage = false };
        var client = api.UserClient("estimator");

        var preview = await (await client.PostAsJsonAsync("/v1/prompts/preview", new { content = "Say hi to {name}", variables = new { name = "Bo" } }))
            .ShouldBeJsonAsync(HttpStatusCode.OK);

        preview.GetProperty("tokens_used").GetInt64().Should().Be(Tokens("Say hi to Bo", FakeReply));
        api.Upstream.Script = new FakeScript();
    }

    [Fact]
    public async Task Preview_WithAnUnknownModel_Is400_WithoutCallingAModelOrCountingAUse()
    {
        var client = api.UserClient("wrong-model");
        var id = await CreateAsync(client, "Hello {x}");
        var before = api.Upstream.Requests.Count;

        var problem = await (await client.PostAsJsonAsync("/v1/prompts/preview", new { prompt_id = id, variables = new { x = "y" }, model = "gpt-9" }))
            .ShouldBeProblemAsync(HttpStatusCode.BadRequest);

        problem.Str("code").Should().Be("model_not_found");
        api.Upstream.Requests.Count.Should().Be(before);
        (await UsageCountAsync(id)).Should().Be(0);
    }

    [Theory]
    [InlineData(500, HttpStatusCode.ServiceUnavailable, "provider_unavailable")]
    [InlineData(401, HttpStatusCode.BadGateway, "provider_auth_failed")]
    [InlineData(429, HttpStatusCode.ServiceUnavailable, "provider_rate_limited")]
    public async Task Preview_WhenTheProviderFails_IsAProblemWithTheProviderErrorCode(int upstreamStatus, HttpStatusCode status, string code)
    {
        api.Upstream.Script = new FakeScript { Status = upstreamStatus };
        try
        {
            var problem = await (await api.UserClient("unlucky").PostAsJsonAsync("/v1/prompts/preview", new { content = "Hi {n}", variables = new { n = "there" } }))
                .ShouldBeProblemAsync(status);

            problem.Str("code").Should().Be(code);
            problem.GetRawText().Should().NotContain("fake failure");
        }
        finally
        {
            api.Upstream.Script = new FakeScript();
        }
    }

    [Fact]
    public async Task Preview_NeedsExactlyOneOfPromptIdAndContent_AndValidContent()
    {
        var client = api.UserClient("confused");
        var id = await CreateAsync(client, "Hi");

        async Task<JsonElement> ErrorsAsync(object body) =>
            (await (await client.PostAsJsonAsync("/v1/prompts/preview", body)).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity)).GetProperty("errors");

        (await ErrorsAsync(new { variables = new { a = "b" } })).TryGetProperty("prompt_id", out _).Should().BeTrue();
        (await ErrorsAsync(new { prompt_id = id, content = "Hi" })).TryGetProperty("content", out _).Should().BeTrue();
        (await ErrorsAsync(new { content = "" })).TryGetProperty("content", out _).Should().BeTrue();
        (await ErrorsAsync(new { content = new string('c', 20_001) })).GetProperty("content")[0].GetString().Should().Contain("20000");
        (await ErrorsAsync(new { content = "Fill {this and stop" })).GetProperty("content")[0].GetString().Should().StartWith("Unclosed '{' at position 5");
        (await ErrorsAsync(new { content = "{a}{a}{a}{a}{a}{a}", variables = new { a = new string('v', 20_000) } })).TryGetProperty("variables", out _).Should().BeTrue();
        (await UsageCountAsync(id)).Should().Be(0);
        await (await client.PostAsJsonAsync("/v1/prompts/preview", new { prompt_id = Guid.NewGuid() })).ShouldBeProblemAsync(HttpStatusCode.NotFound);
    }
}

/// <summary>A model that never answers: the preview gives up after <c>AI:ReplyTimeoutSeconds</c> and cancels the upstream call.</summary>
public class PreviewPromptTimeoutTests(PreviewPromptTimeoutTests.SlowApi api) : IClassFixture<PreviewPromptTimeoutTests.SlowApi>
{
    public sealed class SlowApi : ChatApiFactory
    {
        public SlowApi() => With("AI:ReplyTimeoutSeconds", "1");
    }

    [Fact]
    public async Task Preview_WhenTheModelHangs_Is504AfterTheReplyTimeout_AndTheUpstreamCallIsCancelled()
    {
        api.Upstream.Script = new FakeScript { Hang = true };

        var problem = await (await api.UserClient("patient").PostAsJsonAsync("/v1/prompts/preview", new { content = "Wait for {it}", variables = new { it = "me" } }))
            .ShouldBeProblemAsync(HttpStatusCode.GatewayTimeout);

        problem.Str("code").Should().Be("provider_timeout");
        var request = api.Upstream.Requests.Should().ContainSingle().Subject;
        (await Task.WhenAny(request.Aborted.Task, Task.Delay(TimeSpan.FromSeconds(5)))).Should().Be(request.Aborted.Task);
    }
}

/// <summary>A preview calls the model, so it spends from the daily token quota like a chat turn.</summary>
public class PreviewPromptQuotaTests(PreviewPromptQuotaTests.TightQuotaApi api) : IClassFixture<PreviewPromptQuotaTests.TightQuotaApi>
{
    public sealed class TightQuotaApi : ChatApiFactory
    {
        public TightQuotaApi() => With("RateLimits:Tiers:free:TokensPerDay", "1000");
    }

    [Fact]
    public async Task Preview_CountsAgainstTheDailyQuota_AndIsRefusedWithoutAModelCallWhenItCouldExceedIt()
    {
        api.Upstream.Script = new FakeScript();
        var client = api.UserClient("thrifty");

        await (await client.PostAsJsonAsync("/v1/prompts/preview", new { content = "Say {what}", variables = new { what = "hi" } })).ShouldBeJsonAsync(HttpStatusCode.OK);
        (await api.ScalarAsync<long>("SELECT tokens FROM usage_daily WHERE subject = 'thrifty'")).Should().Be(11 + 7, "the reservation was settled to the reply's usage");

        await api.ScalarAsync<int>("UPDATE usage_daily SET tokens = 900 WHERE subject = 'thrifty' RETURNING 1");
        var before = api.Upstream.Requests.Count;
        var refused = await client.PostAsJsonAsync("/v1/prompts/preview", new { content = "Say {what}", variables = new { what = "more" } });

        (await refused.ShouldBeProblemAsync(HttpStatusCode.TooManyRequests)).Str("code").Should().Be("token_quota_exceeded");
        refused.Headers.RetryAfter.Should().NotBeNull();
        api.Upstream.Requests.Count.Should().Be(before, "a refused preview never reaches the model");
    }
}
