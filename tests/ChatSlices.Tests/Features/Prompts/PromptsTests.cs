using ChatSlices.Infrastructure.Prompts;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChatSlices.Features.Prompts;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.Prompts;

public class PromptsTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    public static readonly Guid SummariseTemplate = Guid.Parse("01900000-0000-7000-8000-000000000001");

    private static async Task<JsonElement> CreateAsync(HttpClient client, object body) =>
        await (await client.PostAsJsonAsync("/v1/prompts", body)).ShouldBeJsonAsync(HttpStatusCode.Created);

    private static List<string> Variables(JsonElement prompt) =>
        prompt.GetProperty("variables").EnumerateArray().Select(v => v.GetString()!).ToList();

    [Fact]
    public async Task Create_Is201WithThePrompt_ItsParsedVariables_AndALocation()
    {
        var client = api.UserClient("author");

        var response = await client.PostAsJsonAsync("/v1/prompts", new
        {
            title = "  Weekly report  ",
            content = "Write the weekly report for {team} covering {period}; sign it {team}. Braces: {{like this}}.",
            scenario = "reporting",
            description = "Monday routine",
            metadata = new { tags = new[] { "work", "weekly" }, owner_note = 3 },
        });

        var prompt = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        response.Headers.Location!.ToString().Should().Be($"/v1/prompts/{prompt.Str("id")}");
        prompt.Str("title").Should().Be("Weekly report");
        prompt.Str("content").Should().Be("Write the weekly report for {team} covering {period}; sign it {team}. Braces: {{like this}}.");
        prompt.Str("scenario").Should().Be("reporting");
        prompt.Str("description").Should().Be("Monday routine");
        prompt.GetProperty("metadata").GetProperty("tags")[1].GetString().Should().Be("weekly");
        prompt.GetProperty("metadata").GetProperty("owner_note").GetInt32().Should().Be(3);
        prompt.GetProperty("is_template").GetBoolean().Should().BeFalse();
        Variables(prompt).Should().Equal("team", "period");
        prompt.GetProperty("usage_count").GetInt32().Should().Be(0);
        prompt.GetProperty("created_at").GetDateTime().Should().BeCloseTo(DateTime.UtcNow, TimeSpan.FromMinutes(1));
        prompt.GetProperty("updated_at").GetDateTime().Should().Be(prompt.GetProperty("created_at").GetDateTime());

        var read = await (await client.GetAsync($"/v1/prompts/{prompt.Str("id")}")).ShouldBeJsonAsync(HttpStatusCode.OK);
        read.GetRawText().Should().Be(prompt.GetRawText());
        (await api.ScalarAsync<string>("SELECT owner_id FROM prompts WHERE id = @id::uuid", new { id = prompt.Str("id") })).Should().Be("author");
    }

    [Fact]
    public async Task Create_WithOnlyTitleAndContent_HasEmptyMetadataAndNullOptionalFields()
    {
        var prompt = await CreateAsync(api.UserClient("minimalist"), new { title = "Bare", content = "Just text." });

        prompt.GetProperty("metadata").GetRawText().Should().Be("{}");
        prompt.GetProperty("scenario").ValueKind.Should().Be(JsonValueKind.Null);
        prompt.GetProperty("description").ValueKind.Should().Be(JsonValueKind.Null);
        Variables(prompt).Should().BeEmpty();
    }

    [Fact]
    public async Task InvalidFields_Are422_NamingEachField()
    {
        var client = api.UserClient("sloppy");

        async Task<JsonElement> ErrorsAsync(object body) =>
            (await (await client.PostAsJsonAsync("/v1/prompts", body)).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity)).GetProperty("errors");

        (await ErrorsAsync(new { title = "", content = "ok" })).EnumerateObject().Select(e => e.Name).Should().Equal("title");
        (await ErrorsAsync(new { title = "   ", content = "ok" })).TryGetProperty("title", out _).Should().BeTrue();
        (await ErrorsAsync(new { title = new string('t', 201), content = "ok" })).GetProperty("title")[0].GetString().Should().Contain("200");
        (await ErrorsAsync(new { title = "Long", content = new string('c', 20_001) })).GetProperty("content")[0].GetString().Should().Contain("20000");
        (await ErrorsAsync(new { title = "Empty", content = "" })).TryGetProperty("content", out _).Should().BeTrue();
        (await ErrorsAsync(new { title = "Missing" })).TryGetProperty("content", out _).Should().BeTrue();
        (await ErrorsAsync(new { title = "Meta", content = "ok", metadata = new[] { 1, 2 } })).GetProperty("metadata")[0].GetString().Should().Be("Must be a JSON object.");
        (await ErrorsAsync(new { title = "Meta", content = "ok", metadata = "text" })).TryGetProperty("metadata", out _).Should().BeTrue();
        (await ErrorsAsync(new { title = "Tags", content = "ok", metadata = new { tags = "work" } })).TryGetProperty("metadata.tags", out _).Should().BeTrue();
        (await ErrorsAsync(new { title = "Brace", content = "Summarise this: {text" })).GetProperty("content")[0].GetString()
            .Should().StartWith("Unclosed '{' at position 16");
        (await ErrorsAsync(new { title = "Brace", content = "Stray } brace" })).GetProperty("content")[0].GetString()
            .Should().StartWith("Unmatched '}' at position 6");

        (await client.PostAsJsonAsync("/v1/prompts", new { title = "Exactly at the limit", content = new string('c', 20_000) })).StatusCode.Should().Be(HttpStatusCode.Created);
        (await api.ScalarAsync<long>("SELECT count(*) FROM prompts WHERE owner_id = 'sloppy'")).Should().Be(1);
    }

    [Fact]
    public async Task Update_ChangesOnlyTheFieldsSent_ReparsesVariables_AndMovesUpdatedAt()
    {
        var client = api.UserClient("editor");
        var created = await CreateAsync(client, new
        {
            title = "Draft", content = "Hello {name}", scenario = "greeting", description = "old", metadata = new { tags = new[] { "a" } },
        });
        var id = created.Str("id");

        var updated = await (await client.PutAsJsonAsync($"/v1/prompts/{id}", new { content = "Bye {name}, see you {when}" })).ShouldBeJsonAsync(HttpStatusCode.OK);

        updated.Str("title").Should().Be("Draft");
        updated.Str("content").Should().Be("Bye {name}, see you {when}");
        Variables(updated).Should().Equal("name", "when");
        updated.Str("scenario").Should().Be("greeting");
        updated.Str("description").Should().Be("old");
        updated.GetProperty("metadata").GetProperty("tags")[0].GetString().Should().Be("a");
        updated.GetProperty("updated_at").GetDateTime().Should().BeAfter(created.GetProperty("updated_at").GetDateTime());
        updated.GetProperty("created_at").GetDateTime().Should().Be(created.GetProperty("created_at").GetDateTime());

        var cleared = await (await client.PutAsJsonAsync($"/v1/prompts/{id}", new { title = " Final ", scenario = "", description = "", metadata = new { } }))
            .ShouldBeJsonAsync(HttpStatusCode.OK);
        cleared.Str("title").Should().Be("Final");
        cleared.GetProperty("scenario").ValueKind.Should().Be(JsonValueKind.Null);
        cleared.GetProperty("description").ValueKind.Should().Be(JsonValueKind.Null);
        cleared.GetProperty("metadata").GetRawText().Should().Be("{}");
        Variables(cleared).Should().Equal("name", "when");

        await (await client.PutAsJsonAsync($"/v1/prompts/{id}", new { title = "" })).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
        await (await client.PutAsJsonAsync($"/v1/prompts/{id}", new { content = "{broken" })).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
        await (await client.PutAsJsonAsync($"/v1/prompts/{id}", new { content = new string('c', 20_001) })).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
        (await api.ScalarAsync<string>("SELECT title || '|' || content FROM prompts WHERE id = @id::uuid", new { id })).Should().Be("Final|Bye {name}, see you {when}");
    }

    [Fact]
    public async Task Delete_Is200WithAMessage_AndTheRowIsGone()
    {
        var client = api.UserClient("deleter");
        var id = (await CreateAsync(client, new { title = "Temporary", content = "x" })).Str("id");

        var deleted = await (await client.DeleteAsync($"/v1/prompts/{id}")).ShouldBeJsonAsync(HttpStatusCode.OK);

        deleted.Str("message").Should().Be("Prompt deleted successfully");
        (await api.ScalarAsync<long>("SELECT count(*) FROM prompts WHERE id = @id::uuid", new { id })).Should().Be(0);
        await (await client.GetAsync($"/v1/prompts/{id}")).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        await (await client.DeleteAsync($"/v1/prompts/{id}")).ShouldBeProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task EveryRoute_WithAnotherUsersPrompt_Is404_AndChangesNothing()
    {
        var id = (await CreateAsync(api.UserClient("owner"), new { title = "Mine", content = "Secret {thing}", metadata = new { tags = new[] { "private" } } })).Str("id");
        const string snapshot = "SELECT title || '|' || content || '|' || metadata::text || '|' || usage_count || '|' || updated_at FROM prompts WHERE id = @id::uuid";
        var before = await api.ScalarAsync<string>(snapshot, new { id });
        var intruder = api.UserClient("intruder");
        var admin = api.AdminClient("admin-intruder");

        var responses = new[]
        {
            await intruder.GetAsync($"/v1/prompts/{id}"),
            await intruder.PutAsJsonAsync($"/v1/prompts/{id}", new { title = "hacked" }),
            await intruder.DeleteAsync($"/v1/prompts/{id}"),
            await intruder.PostAsJsonAsync("/v1/prompts/preview", new { prompt_id = id, variables = new { thing = "x" }, model = "local-chat" }),
            await intruder.PostAsJsonAsync("/v1/prompts/preview", new { prompt_id = id }),
            await admin.GetAsync($"/v1/prompts/{id}"),
            await admin.PutAsJsonAsync($"/v1/prompts/{id}", new { title = "hacked" }),
            await admin.DeleteAsync($"/v1/prompts/{id}"),
        };

        foreach (var response in responses) await response.ShouldBeProblemAsync(HttpStatusCode.NotFound);
        (await api.ScalarAsync<string>(snapshot, new { id })).Should().Be(before);
        var intruderList = await (await intruder.GetAsync("/v1/prompts?include_templates=false")).ShouldBeJsonAsync(HttpStatusCode.OK);
        intruderList.GetProperty("total").GetInt64().Should().Be(0);
        (await (await intruder.GetAsync("/v1/prompts?tag=private")).JsonAsync()).GetProperty("total").GetInt64().Should().Be(0);
    }

    [Fact]
    public async Task Templates_AreReadableByEveryone_ButCreatedChangedAndDeletedByAdminsOnly()
    {
        var user = api.UserClient("plain-user");
        var admin = api.AdminClient("template-admin");

        var forbidden = await (await user.PostAsJsonAsync("/v1/prompts", new { title = "Mine for all", content = "x", is_template = true })).ShouldBeProblemAsync(HttpStatusCode.Forbidden);
        forbidden.Str("code").Should().Be("forbidden");
        (await api.ScalarAsync<long>("SELECT count(*) FROM prompts WHERE title = 'Mine for all'")).Should().Be(0);

        var template = await CreateAsync(admin, new { title = "Company tone", content = "Rewrite in our tone: {text}", scenario = "writing", is_template = true });
        template.GetProperty("is_template").GetBoolean().Should().BeTrue();
        var id = template.Str("id");
        (await api.ScalarAsync<string>("SELECT coalesce(owner_id, 'none') FROM prompts WHERE id = @id::uuid", new { id })).Should().Be("none");

        (await (await user.GetAsync($"/v1/prompts/{id}")).ShouldBeJsonAsync(HttpStatusCode.OK)).Str("title").Should().Be("Company tone");
        await (await user.PutAsJsonAsync($"/v1/prompts/{id}", new { title = "Hijacked" })).ShouldBeProblemAsync(HttpStatusCode.Forbidden);
        await (await user.DeleteAsync($"/v1/prompts/{id}")).ShouldBeProblemAsync(HttpStatusCode.Forbidden);
        await (await user.PutAsJsonAsync($"/v1/prompts/{SummariseTemplate}", new { title = "Hijacked" })).ShouldBeProblemAsync(HttpStatusCode.Forbidden);
        (await api.ScalarAsync<string>("SELECT title FROM prompts WHERE id = @id::uuid", new { id })).Should().Be("Company tone");
        (await api.ScalarAsync<string>("SELECT title FROM prompts WHERE id = @id::uuid", new { id = SummariseTemplate.ToString() })).Should().Be("Summarise");

        var changed = await (await admin.PutAsJsonAsync($"/v1/prompts/{id}", new { title = "House tone", is_template = false })).ShouldBeJsonAsync(HttpStatusCode.OK);
        changed.Str("title").Should().Be("House tone");
        changed.GetProperty("is_template").GetBoolean().Should().BeTrue("whether a prompt is a template is fixed at creation");
        (await (await admin.DeleteAsync($"/v1/prompts/{id}")).ShouldBeJsonAsync(HttpStatusCode.OK)).Str("message").Should().Be("Prompt deleted successfully");
        await (await user.GetAsync($"/v1/prompts/{id}")).ShouldBeProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task ShippedTemplates_AreSeeded_WithTheVariablesOfTheirContent()
    {
        var client = api.UserClient("newcomer");

        var page = await (await client.GetAsync("/v1/prompts?page_size=100")).ShouldBeJsonAsync(HttpStatusCode.OK);
        var templates = page.GetProperty("items").EnumerateArray().Where(p => p.GetProperty("is_template").GetBoolean()).ToList();

        templates.Select(t => t.Str("title")).Should().Contain(["Summarise", "Translate", "Explain like I'm new", "Extract action items"]);
        foreach (var template in templates)
            Variables(template).Should().Equal(PromptTemplate.Parse(template.Str("content")).Variables, template.Str("title"));
        var translate = templates.Single(t => t.Str("title") == "Translate");
        Variables(translate).Should().Equal("target_language", "text");
        translate.Str("scenario").Should().Be("translation");
        var summarise = await (await client.GetAsync($"/v1/prompts/{SummariseTemplate}")).ShouldBeJsonAsync(HttpStatusCode.OK);
        summarise.Str("title").Should().Be("Summarise");
    }

    [Fact]
    public async Task WithoutAToken_EveryRouteIs401_AndMalformedIdsAre404()
    {
        var guest = api.ClientFor(null);
        await (await guest.GetAsync("/v1/prompts")).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
        await (await guest.PostAsJsonAsync("/v1/prompts", new { title = "t", content = "c" })).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
        await (await guest.PostAsJsonAsync("/v1/prompts/preview", new { content = "c" })).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
        await (await guest.GetAsync($"/v1/prompts/{SummariseTemplate}")).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);

        var client = api.UserClient("anyone");
        (await client.GetAsync("/v1/prompts/not-a-uuid")).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await client.DeleteAsync("/v1/prompts/12345")).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }
}
