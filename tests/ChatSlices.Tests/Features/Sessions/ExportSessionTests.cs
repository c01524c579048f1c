using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.Sessions;

/// <summary>
/// Export round trips over a session with an uploaded handbook and two turns that cite it (as RetrievalTests sets one
/// up), each reply with its own text.
/// </summary>
public class ExportSessionTests : IClassFixture<ExportSessionTests.Handbook>
{
    public sealed class Handbook : ChatApiFactory
    {
        public const string Title = "Vacation questions";
        public string Owner { get; } = Tokens.For("exporter");
        public string SessionId { get; private set; } = "";

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            var client = SocketClient(Owner);
            SessionId = (await (await client.PostAsJsonAsync("/v1/chat/sessions", new { title = Title, model = "fake-gpt" })).ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");
            var pdf = TestPdf.Create([
                ["Vacation policy.", "Employees receive twenty five vacation days per year."],
                ["Expenses.", "Receipts for travel expenses are submitted within thirty days."],
            ], title: "Employee handbook");
            await (await client.PostAsync($"/v1/chat/sessions/{SessionId}/upload", Uploads.Form(pdf, "handbook.pdf"))).ShouldBeJsonAsync(HttpStatusCode.Created);
            foreach (var (question, answer) in new[]
                     {
                         ("How many vacation days do employees receive per year?", "Twenty five days [1]."),
                         ("When are travel expense receipts submitted?", "Within thirty days, with the **receipts** [1]."),
                     })
            {
                Upstream.Script = new FakeScript { Chunks = [answer] };
                var turn = await (await client.PostAsJsonAsync("/v1/chat/stream", new { query = question, session_id = SessionId, stream = false }))
                    .ShouldBeJsonAsync(HttpStatusCode.OK);
                turn.GetProperty("sources").GetArrayLength().Should().BeGreaterThan(0, "each turn should cite the handbook");
            }
        }
    }

    private readonly Handbook _api;

    public ExportSessionTests(Handbook api) => _api = api;

    private async Task<List<JsonElement>> StoredMessagesAsync() =>
        (await (await _api.SocketClient(_api.Owner).GetAsync($"/v1/chat/sessions/{_api.SessionId}/messages?limit=100")).ShouldBeJsonAsync(HttpStatusCode.OK))
        .GetProperty("items").EnumerateArray().ToList();

    [Fact]
    public async Task JsonExport_IsADownload_OfTheSession_AndEveryMessageInOrder_AsStored()
    {
        var response = await _api.SocketClient(_api.Owner).GetAsync($"/v1/chat/sessions/{_api.SessionId}/export?format=json");

        var export = await response.ShouldBeJsonAsync(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.Should().Be("application/json");
        response.Content.Headers.ContentDisposition!.DispositionType.Should().Be("attachment");
        response.Content.Headers.ContentDisposition.FileNameStar.Should().Be($"{Handbook.Title}.json");
        var session = export.GetProperty("session");
        session.Str("id").Should().Be(_api.SessionId);
        session.Str("title").Should().Be(Handbook.Title);
        session.Str("model").Should().Be("fake-gpt");
        session.GetProperty("message_count").GetInt64().Should().Be(4);
        session.TryGetProperty("created_at", out _).Should().BeTrue();
        session.TryGetProperty("updated_at", out _).Should().BeTrue();

        var stored = await StoredMessagesAsync();
        var exported = export.GetProperty("messages").EnumerateArray().ToList();
        exported.Should().HaveCount(4);
        exported.Select(m => m.Str("role")).Should().Equal("user", "assistant", "user", "assistant");
        exported.Select(m => m.Str("content")).Should().Equal(stored.Select(m => m.Str("content")));
        exported[3].Str("content").Should().Be("Within thirty days, with the **receipts** [1].");
        foreach (var (mine, theirs) in exported.Zip(stored))
        {
            foreach (var field in new[] { "id", "parent_id", "role", "model", "status" })
                mine.GetProperty(field).ToString().Should().Be(theirs.GetProperty(field).ToString(), field);
            mine.GetProperty("created_at").GetDateTime().Should().Be(theirs.GetProperty("created_at").GetDateTime());
            JsonElement.DeepEquals(mine.GetProperty("sources"), theirs.GetProperty("sources")).Should().BeTrue($"{mine.GetProperty("sources")} should be {theirs.GetProperty("sources")}");
        }
        exported[1].GetProperty("sources").EnumerateArray().Should().Contain(s => s.Str("title") == "Employee handbook");
    }

    [Fact]
    public async Task MarkdownExport_IsATranscript_WithEachReplysSourcesAsFootnotes_NumberedThroughTheFile()
    {
        var response = await _api.SocketClient(_api.Owner).GetAsync($"/v1/chat/sessions/{_api.SessionId}/export?format=markdown");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.Should().Be("text/markdown");
        response.Content.Headers.ContentDisposition!.DispositionType.Should().Be("attachment");
        response.Content.Headers.ContentDisposition.FileNameStar.Should().Be($"{Handbook.Title}.md");
        var markdown = await response.Content.ReadAsStringAsync();
        markdown.Should().StartWith($"# {Handbook.Title}\n");

        // The turns in order, each under its role's heading; each reply's footnotes right after it, numbered on.
        var position = 0;
        var footnote = 0;
        foreach (var message in await StoredMessagesAsync())
        {
            var heading = message.Str("role") == "user" ? "## User" : "## Assistant (fake-gpt)";
            position = markdown.IndexOf($"\n{heading}\n\n{message.Str("content")}\n", position, StringComparison.Ordinal);
            position.Should().BeGreaterThan(0, $"the transcript should hold the {message.Str("role")} message '{message.Str("content")}' in order:\n{markdown}");
            var cited = message.GetProperty("sources").EnumerateArray().Select(s => $"{s.Str("title")}, page {s.GetProperty("page").GetInt32()}").Distinct().ToList();
            foreach (var source in cited)
            {
                footnote++;
                var definition = markdown.IndexOf($"\n[^{footnote}]: {source}\n", position, StringComparison.Ordinal);
                definition.Should().BeGreaterThan(position, $"footnote {footnote} should cite {source}:\n{markdown}");
                markdown[position..definition].Should().Contain($"[^{footnote}]", "the reply refers to its footnote");
            }
        }
        footnote.Should().BeGreaterThan(1, "both replies cite the handbook");
        markdown.Should().Contain("Employee handbook, page 1");
    }

    [Fact]
    public async Task AnotherUsersSession_Is404_ForAUserAndAGuest_AndAGuestSession_IsExportedByItsId()
    {
        foreach (var format in new[] { "json", "markdown" })
        {
            await (await _api.SocketClient(Tokens.For("someone-else")).GetAsync($"/v1/chat/sessions/{_api.SessionId}/export?format={format}"))
                .ShouldBeProblemAsync(HttpStatusCode.NotFound);
            await (await _api.SocketClient().GetAsync($"/v1/chat/sessions/{_api.SessionId}/export?format={format}")).ShouldBeProblemAsync(HttpStatusCode.NotFound);
        }
        await (await _api.SocketClient(_api.Owner).GetAsync($"/v1/chat/sessions/{Guid.CreateVersion7()}/export")).ShouldBeProblemAsync(HttpStatusCode.NotFound);

        _api.Upstream.Script = new FakeScript { Chunks = ["A guest's answer."] };
        var guest = await (await _api.SocketClient().PostAsJsonAsync("/v1/chat/stream", new { query = "A guest's question", stream = false })).ShouldBeJsonAsync(HttpStatusCode.OK);
        var export = await (await _api.SocketClient().GetAsync($"/v1/chat/sessions/{guest.Str("session_id")}/export")).ShouldBeJsonAsync(HttpStatusCode.OK);
        export.GetProperty("messages").EnumerateArray().Select(m => m.Str("content")).Should().Equal("A guest's question", "A guest's answer.");
    }

    [Fact]
    public async Task Export_IsTheActiveBranch_AndBranchAllInJson_IsTheWholeTreeWithParents()
    {
        var client = _api.SocketClient(_api.Owner);
        var id = (await (await client.PostAsJsonAsync("/v1/chat/sessions", new { title = "Branches", model = "fake-gpt" })).ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");
        _api.Upstream.Script = new FakeScript { Chunks = ["First answer."] };
        var turn = await (await client.PostAsJsonAsync($"/v1/chat/sessions/{id}/messages", new { content = "Which answer?" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var (question, first) = (turn.GetProperty("user_message").Str("id"), turn.GetProperty("assistant_message").Str("id"));
        _api.Upstream.Script = new FakeScript { Chunks = ["Second answer."] };
        var second = (await (await client.PostAsJsonAsync($"/v1/chat/sessions/{id}/messages/{first}/regenerate", new { stream = false }))
            .ShouldBeJsonAsync(HttpStatusCode.OK)).GetProperty("message").Str("id");

        var active = await (await client.GetAsync($"/v1/chat/sessions/{id}/export")).ShouldBeJsonAsync(HttpStatusCode.OK);
        var tree = await (await client.GetAsync($"/v1/chat/sessions/{id}/export?format=json&branch=all")).ShouldBeJsonAsync(HttpStatusCode.OK);
        var markdown = await (await client.GetAsync($"/v1/chat/sessions/{id}/export?format=markdown")).Content.ReadAsStringAsync();

        active.Str("branch").Should().Be("active");
        active.GetProperty("messages").EnumerateArray().Select(m => (m.Str("id"), m.Str("content"))).Should().Equal((question, "Which answer?"), (second, "Second answer."));
        tree.Str("branch").Should().Be("all");
        tree.GetProperty("messages").EnumerateArray().Select(m => (m.Str("id"), m.GetProperty("parent_id").GetString(), m.Str("content")))
            .Should().Equal((question, null, "Which answer?"), (first, question, "First answer."), (second, question, "Second answer."));
        markdown.Should().Contain("Second answer.").And.NotContain("First answer.");
    }

    [Theory]
    [InlineData("?format=pdf", "format")]
    [InlineData("?format=JSON", "format")]
    [InlineData("?format=", "format")]
    [InlineData("?branch=mine", "branch")]
    [InlineData("?format=markdown&branch=all", "branch")]
    public async Task AnUnknownFormatOrBranch_OrAWholeTreeAsMarkdown_Is422_NamingIt(string query, string field)
    {
        var problem = await (await _api.SocketClient(_api.Owner).GetAsync($"/v1/chat/sessions/{_api.SessionId}/export{query}"))
            .ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);

        problem.GetProperty("errors").TryGetProperty(field, out _).Should().BeTrue(problem.ToString());
    }

    [Fact]
    public async Task AnUntitledEmptySession_IsExportedAsChatAndItsId_WithNoMessages()
    {
        var client = _api.SocketClient(_api.Owner);
        var id = (await (await client.PostAsJsonAsync("/v1/chat/sessions", new { model = "fake-gpt" })).ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");

        var response = await client.GetAsync($"/v1/chat/sessions/{id}/export");

        var export = await response.ShouldBeJsonAsync(HttpStatusCode.OK);
        response.Content.Headers.ContentDisposition!.FileNameStar.Should().Be($"chat-{id}.json");
        export.GetProperty("messages").GetArrayLength().Should().Be(0);
        var markdown = await (await client.GetAsync($"/v1/chat/sessions/{id}/export?format=markdown")).Content.ReadAsStringAsync();
        markdown.Should().StartWith("# Untitled chat\n").And.NotContain("## ");
    }

    [Fact]
    public async Task ALongSession_IsExportedWhole_InOrder_AsOneBranch()
    {
        const int count = 5000;
        var client = _api.SocketClient(_api.Owner);
        var id = (await (await client.PostAsJsonAsync("/v1/chat/sessions", new { title = "Long", model = "fake-gpt" })).ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");
        await _api.ExecuteAsync($"""
            INSERT INTO chat_messages (id, session_id, role, content, created_at)
            SELECT gen_random_uuid(), '{id}', CASE WHEN i % 2 = 0 THEN 'user' ELSE 'assistant' END, 'message ' || i || ' ' || repeat('x', 200),
                   '2026-01-01T00:00:00Z'::timestamptz + i * interval '1 second'
            FROM generate_series(0, {count - 1}) i;
            {SeededTree.ChainSql}
            """);

        var export = await (await client.GetAsync($"/v1/chat/sessions/{id}/export")).ShouldBeJsonAsync(HttpStatusCode.OK);

        export.GetProperty("messages").EnumerateArray().Select(m => m.Str("content").Split(' ')[1])
            .Should().Equal(Enumerable.Range(0, count).Select(i => i.ToString()));
    }
}
