using System.Net;
using System.Net.Http.Json;
using ChatSlices.Tests.Features.UploadPdf;
using ChatSlices.Tests.Support;
using Npgsql;

namespace ChatSlices.Tests.Features.Assistants;

/// <summary>
/// An added knowledge document and the bump of its assistant's <c>knowledge_version</c> (the semantic cache's scope) are
/// one change. A trigger in this class's own database makes the bump take a second, so that a reader watching both
/// while the upload runs would catch a document whose bump has not landed (or a bump without its document).
/// </summary>
public class KnowledgeVersionTests : IAsyncLifetime
{
    private readonly ApiFactory _api = new();

    private const string SlowBumpTrigger = """
        CREATE FUNCTION test_slow_bump() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_sleep(1);
            RETURN NEW;
        END $$;
        CREATE TRIGGER test_slow_bump BEFORE UPDATE ON assistants FOR EACH ROW
            WHEN (NEW.knowledge_version IS DISTINCT FROM OLD.knowledge_version) EXECUTE FUNCTION test_slow_bump();
        """;

    public async Task InitializeAsync()
    {
        await _api.InitializeAsync();
        await _api.ExecuteAsync(SlowBumpTrigger);
    }

    public async Task DisposeAsync() => await _api.DisposeAsync();

    private static byte[] Notes(string topic) => TestPdf.Create([[$"Notes on {topic}.", $"Everything we know about {topic} fits on this page."]]);

    /// <summary>(documents of the assistant, its knowledge_version), read in one snapshot.</summary>
    private async Task<(long Documents, long Version)> ObserveAsync(NpgsqlConnection conn, Guid assistantId)
    {
        await using var cmd = new NpgsqlCommand(
            "SELECT (SELECT count(*) FROM documents WHERE assistant_id = @id), (SELECT knowledge_version FROM assistants WHERE id = @id)", conn);
        cmd.Parameters.AddWithValue("id", assistantId);
        await using var reader = await cmd.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>Uploads while a reader watches; returns the response and every (documents, version) pair the reader saw.</summary>
    private async Task<(HttpResponseMessage Response, List<(long Documents, long Version)> Seen)> UploadWatchedAsync(HttpClient admin, Guid assistantId, byte[] pdf)
    {
        await using var conn = new NpgsqlConnection(_api.ConnectionString);
        await conn.OpenAsync();
        var seen = new List<(long, long)>();
        var upload = admin.PostAsync($"/v1/assistants/{assistantId}/documents", Uploads.Form(pdf));
        while (!upload.IsCompleted)
        {
            seen.Add(await ObserveAsync(conn, assistantId));
            await Task.Delay(10);
        }
        seen.Add(await ObserveAsync(conn, assistantId));
        return (await upload, seen);
    }

    [Fact]
    public async Task AddingKnowledge_MovesTheVersionWithEveryNewDocument_AndNoReaderSeesOneWithoutTheOther()
    {
        var admin = _api.AdminClient();
        var assistant = await (await admin.PostAsJsonAsync("/v1/assistants", new { name = "Librarian" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var id = Guid.Parse(assistant.Str("id"));
        await using var conn = new NpgsqlConnection(_api.ConnectionString);
        await conn.OpenAsync();
        var (_, start) = await ObserveAsync(conn, id);

        var (first, seenFirst) = await UploadWatchedAsync(admin, id, Notes("owls"));
        var (second, seenSecond) = await UploadWatchedAsync(admin, id, Notes("foxes"));
        var (again, seenAgain) = await UploadWatchedAsync(admin, id, Notes("owls"));

        await first.ShouldBeJsonAsync(HttpStatusCode.Created);
        await second.ShouldBeJsonAsync(HttpStatusCode.Created);
        await again.ShouldBeJsonAsync(HttpStatusCode.OK);
        (await ObserveAsync(conn, id)).Should().Be((2L, start + 2), "each new document moves the version once; the same bytes again add nothing");
        seenFirst.Concat(seenSecond).Concat(seenAgain).Where(s => s.Version - start != s.Documents).Distinct().Should().BeEmpty(
            "a document is never visible before its assistant's knowledge_version moved, nor the version before the document");
        seenFirst.Count.Should().BeGreaterThan(5, "the reader watched while the (one second) bump ran");
    }
}
