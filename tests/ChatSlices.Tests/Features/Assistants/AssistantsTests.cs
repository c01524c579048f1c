using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChatSlices.Infrastructure.Assistants;
using ChatSlices.Tests.Features.UploadPdf;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.Assistants;

public class AssistantsTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    private static int _names;

    private async Task<JsonElement> CreateAsync(object? extra = null)
    {
        var body = JsonSerializer.SerializeToNode(extra ?? new { })!.AsObject();
        body["name"] ??= $"Helper {Interlocked.Increment(ref _names)}";
        return await (await api.AdminClient().PostAsJsonAsync("/v1/assistants", body)).ShouldBeJsonAsync(HttpStatusCode.Created);
    }

    [Fact]
    public async Task AdminRoutes_Are403ForUsers_And401ForGuests()
    {
        var id = (await CreateAsync()).Str("id");
        var user = api.UserClient("plain-user");
        var guest = api.ClientFor(null);

        foreach (var client in new[] { user, guest })
        {
            var expected = client == user ? HttpStatusCode.Forbidden : HttpStatusCode.Unauthorized;
            var responses = new[]
            {
                await client.PostAsJsonAsync("/v1/assistants", new { name = "Sneaky" }),
                await client.PutAsJsonAsync($"/v1/assistants/{id}", new { name = "Renamed" }),
                await client.DeleteAsync($"/v1/assistants/{id}"),
                await client.PostAsync($"/v1/assistants/{id}/avatar", Uploads.Form(TestImages.Png(8, 8), "a.png", "image/png")),
                await client.DeleteAsync($"/v1/assistants/{id}/avatar"),
                await client.PostAsync($"/v1/assistants/{id}/documents", Uploads.Form(UploadPdfTests.Handbook())),
                await client.GetAsync($"/v1/assistants/{id}/documents"),
                await client.DeleteAsync($"/v1/assistants/{id}/cache"),
            };
            responses.Select(r => r.StatusCode).Should().AllBeEquivalentTo(expected);
        }
        (await api.ScalarAsync<string>("SELECT name FROM assistants WHERE id = @id::uuid", new { id })).Should().StartWith("Helper");
    }

    [Fact]
    public async Task RenamingToANameAnotherAssistantHas_Is409NameTaken_AndChangesNothing()
    {
        var taken = (await CreateAsync()).Str("name");
        var other = await CreateAsync(new { description = "Stays as it is." });

        var problem = await (await api.AdminClient().PutAsJsonAsync($"/v1/assistants/{other.Str("id")}", new { name = taken, description = "Changed?" }))
            .ShouldBeProblemAsync(HttpStatusCode.Conflict);

        problem.Str("code").Should().Be("name_taken");
        (await api.ScalarAsync<string>("SELECT name || '|' || description FROM assistants WHERE id = @id::uuid", new { id = other.Str("id") }))
            .Should().Be($"{other.Str("name")}|Stays as it is.");
        (await api.AdminClient().PutAsJsonAsync($"/v1/assistants/{other.Str("id")}", new { name = other.Str("name") })).StatusCode
            .Should().Be(HttpStatusCode.OK, "keeping its own name is no conflict");
    }

    [Fact]
    public async Task PrivateAssistants_AreHiddenFromGuests_And401ById()
    {
        var hidden = (await CreateAsync(new { requires_auth = true })).Str("id");
        var open = (await CreateAsync()).Str("id");

        var guestList = await (await api.ClientFor(null).GetAsync("/v1/assistants?limit=1000")).ShouldBeJsonAsync(HttpStatusCode.OK);
        var userList = await (await api.UserClient("member").GetAsync("/v1/assistants?limit=1000")).ShouldBeJsonAsync(HttpStatusCode.OK);

        guestList.GetProperty("items").EnumerateArray().Select(a => a.Str("id")).Should().Contain(open).And.NotContain(hidden);
        userList.GetProperty("items").EnumerateArray().Select(a => a.Str("id")).Should().Contain([open, hidden]);
        (await api.ClientFor(null).GetAsync($"/v1/assistants/{hidden}")).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        (await api.UserClient("member").GetAsync($"/v1/assistants/{hidden}")).StatusCode.Should().Be(HttpStatusCode.OK);
        (await api.ClientFor(null).PostAsJsonAsync("/v1/chat/stream", new { query = "hi", assistant_id = hidden, stream = false })).StatusCode.Should().Be(HttpStatusCode.Unauthorized);
        await (await api.ClientFor(null).GetAsync("/v1/assistants?limit=1001")).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
    }

    [Fact]
    public async Task Create_ValidatesSettings_RefusesDuplicateNames_AndPicksAContrastingTextColor()
    {
        var dark = await CreateAsync(new { name = "Night Owl", avatar_bg_color = "#101020" });
        var light = await CreateAsync(new { avatar_bg_color = "#FFEEAA" });

        dark.Str("avatar_text_color").Should().Be("#FFFFFF");
        light.Str("avatar_text_color").Should().Be("#000000");
        dark.GetProperty("settings").GetProperty("cache").GetProperty("similarity_threshold").GetDouble().Should().Be(CacheSettings.DefaultThreshold);
        await (await api.AdminClient().PostAsJsonAsync("/v1/assistants", new { name = "night owl" })).ShouldBeProblemAsync(HttpStatusCode.Conflict);

        var invalid = await (await api.AdminClient().PostAsJsonAsync("/v1/assistants", new
        {
            name = "Broken", avatar_bg_color = "blue", model = "gpt-imaginary",
            settings = new { temperature = 3, max_tokens = 0, cache = new { similarity_threshold = 0.2, ttl_seconds = 5 } },
        })).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
        invalid.GetProperty("errors").EnumerateObject().Select(e => e.Name).Should().BeEquivalentTo(
            ["avatar_bg_color", "model", "settings.temperature", "settings.max_tokens", "settings.cache.similarity_threshold", "settings.cache.ttl_seconds"]);
    }

    [Fact]
    public async Task Update_ChangesOnlyTheGivenFields()
    {
        var id = (await CreateAsync(new { description = "keep me", instructions = "Be terse." })).Str("id");

        var updated = await (await api.AdminClient().PutAsJsonAsync($"/v1/assistants/{id}", new { instructions = "Be kind." })).ShouldBeJsonAsync(HttpStatusCode.OK);

        updated.Str("description").Should().Be("keep me");
        updated.Str("instructions").Should().Be("Be kind.");
        (await api.AdminClient().PutAsJsonAsync($"/v1/assistants/{Guid.NewGuid()}", new { description = "x" })).StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task ChatWithAnAssistant_UsesItsInstructionsModelAndSettings()
    {
        api.Upstream.Script = new FakeScript();
        var id = (await CreateAsync(new { instructions = "You are the travel desk.", model = "fake-gpt", settings = new { temperature = 0.2, cache = new { enabled = false } } })).Str("id");

        var reply = await (await api.UserClient("traveller").PostAsJsonAsync("/v1/chat/stream", new { query = "Book me a train", assistant_id = id, stream = false })).ShouldBeJsonAsync(HttpStatusCode.OK);

        var sent = api.Upstream.Requests.Last().Body;
        sent["messages"]![0]!["content"]!.GetValue<string>().Should().Be("You are the travel desk.");
        sent["temperature"]!.GetValue<double>().Should().BeApproximately(0.2, 1e-6);
        sent["model"]!.GetValue<string>().Should().Be("gpt-fake");
        (await api.ScalarAsync<Guid>("SELECT assistant_id FROM chat_sessions WHERE id = @id::uuid", new { id = reply.Str("session_id") })).Should().Be(Guid.Parse(id));
    }

    [Fact]
    public async Task KnowledgeDocuments_AreCitedInChats_AndDeletingTheAssistantRemovesEverything()
    {
        api.Upstream.Script = new FakeScript();
        var id = (await CreateAsync(new { model = "fake-gpt" })).Str("id");
        var document = await (await api.AdminClient().PostAsync($"/v1/assistants/{id}/documents", Uploads.Form(UploadPdfTests.Handbook()))).ShouldBeJsonAsync(HttpStatusCode.Created);
        (await (await api.AdminClient().GetAsync($"/v1/assistants/{id}/documents")).JsonAsync()).GetProperty("items").GetArrayLength().Should().Be(1);

        var reply = await (await api.UserClient("reader").PostAsJsonAsync("/v1/chat/stream", new { query = "What is the secret launch code of Project Nightingale?", assistant_id = id, stream = false })).ShouldBeJsonAsync(HttpStatusCode.OK);

        var source = reply.GetProperty("sources")[0];
        source.Str("document_id").Should().Be(document.Str("id"));
        source.Str("source").Should().Be("assistant");
        source.GetProperty("page").GetInt32().Should().Be(3);
        (await api.ScalarAsync<long>("SELECT count(*) FROM semantic_cache WHERE assistant_id = @id::uuid", new { id })).Should().Be(1);

        (await api.AdminClient().DeleteAsync($"/v1/assistants/{id}")).StatusCode.Should().Be(HttpStatusCode.NoContent);

        (await api.ScalarAsync<long>("SELECT (SELECT count(*) FROM documents WHERE assistant_id = @id::uuid) + (SELECT count(*) FROM chunks WHERE assistant_id = @id::uuid) + (SELECT count(*) FROM semantic_cache WHERE assistant_id = @id::uuid)", new { id }))
            .Should().Be(0);
        (await api.ScalarAsync<bool>("SELECT assistant_id IS NULL FROM chat_sessions WHERE id = @id::uuid", new { id = reply.Str("session_id") })).Should().BeTrue();
    }
}
