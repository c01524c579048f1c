using System.Net;
using System.Net.Http.Json;
using ChatSlices.Tests.Features.UploadPdf;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.Assistants;

/// <summary>POST /v1/assistants/{id}/documents refuses what it cannot use, and a refused document leaves the assistant as it was.</summary>
public class KnowledgeTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    private static int _names;

    private async Task<string> AssistantAsync() =>
        (await (await api.AdminClient().PostAsJsonAsync("/v1/assistants", new { name = $"Librarian {Interlocked.Increment(ref _names)}" }))
            .ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");

    /// <summary>The assistant's documents and knowledge version: neither moves when an upload is refused.</summary>
    private Task<string?> KnowledgeAsync(string id) => api.ScalarAsync<string>(
        "SELECT (SELECT count(*) FROM documents WHERE assistant_id = a.id) || ' documents, version ' || a.knowledge_version FROM assistants a WHERE a.id = @id::uuid",
        new { id = Guid.Parse(id) });

    [Fact]
    public async Task AGoodPdf_IsAdded_AndMovesTheKnowledgeVersion()
    {
        var id = await AssistantAsync();
        var before = await KnowledgeAsync(id);

        var file = await (await api.AdminClient().PostAsync($"/v1/assistants/{id}/documents", Uploads.Form(UploadPdfTests.Handbook(), "handbook.pdf")))
            .ShouldBeJsonAsync(HttpStatusCode.Created);

        file.Str("filename").Should().Be("handbook.pdf");
        before.Should().Be("0 documents, version 1");
        (await KnowledgeAsync(id)).Should().Be("1 documents, version 2");
    }

    [Fact]
    public async Task ABodyThatIsNotMultipart_Is415NotMultipart()
    {
        var id = await AssistantAsync();

        var problem = await (await api.AdminClient().PostAsJsonAsync($"/v1/assistants/{id}/documents", new { file = "handbook.pdf" }))
            .ShouldBeProblemAsync(HttpStatusCode.UnsupportedMediaType);

        problem.Str("code").Should().Be("not_multipart");
        (await KnowledgeAsync(id)).Should().Be("0 documents, version 1");
    }

    [Fact]
    public async Task AFileThatIsNotAPdf_Is415NotAPdf_WhateverItsNameAndTypeSay()
    {
        var id = await AssistantAsync();

        var problem = await (await api.AdminClient().PostAsync($"/v1/assistants/{id}/documents", Uploads.Form(TestPdf.NotAPdf(), "report.pdf", "application/pdf")))
            .ShouldBeProblemAsync(HttpStatusCode.UnsupportedMediaType);

        problem.Str("code").Should().Be("not_a_pdf");
        (await KnowledgeAsync(id)).Should().Be("0 documents, version 1");
    }

    [Fact]
    public async Task AnOversizedPdf_Is413FileTooLarge_ByItsAnnouncedLength()
    {
        var id = await AssistantAsync();
        var form = Uploads.Form(TestPdf.Large(11 * 1024 * 1024), "big.pdf");
        var body = await form.ReadAsByteArrayAsync();

        var answer = await Uploads.RawAsync(api.ServerAddress,
            $"POST /v1/assistants/{id}/documents HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {Tokens.Admin()}\r\n" +
            $"Content-Type: {form.Headers.ContentType}\r\nContent-Length: {body.Length}\r\n\r\n", body);

        answer.Should().StartWith("HTTP/1.1 413").And.Contain("application/problem+json").And.Contain("\"code\":\"file_too_large\"");
        (await KnowledgeAsync(id)).Should().Be("0 documents, version 1");
    }

    [Fact]
    public async Task AnEncryptedOrCorruptPdf_Is422InvalidPdf()
    {
        var id = await AssistantAsync();

        var encrypted = await (await api.AdminClient().PostAsync($"/v1/assistants/{id}/documents", Uploads.Form(TestPdf.Encrypted(UploadPdfTests.Handbook()))))
            .ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
        var corrupt = await (await api.AdminClient().PostAsync($"/v1/assistants/{id}/documents", Uploads.Form(TestPdf.Corrupt())))
            .ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);

        encrypted.Str("code").Should().Be("invalid_pdf");
        encrypted.Str("detail").Should().Contain("encrypted");
        corrupt.Str("code").Should().Be("invalid_pdf");
        (await KnowledgeAsync(id)).Should().Be("0 documents, version 1");
    }

    [Fact]
    public async Task AFormWithoutAFileField_Is422NamingTheField()
    {
        var id = await AssistantAsync();
        var form = new MultipartFormDataContent { { new StringContent("x"), "document" } };

        var problem = await (await api.AdminClient().PostAsync($"/v1/assistants/{id}/documents", form)).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);

        problem.GetProperty("errors").TryGetProperty("file", out _).Should().BeTrue(problem.ToString());
        (await KnowledgeAsync(id)).Should().Be("0 documents, version 1");
    }

    [Fact]
    public async Task AnUnknownAssistant_Is404_AndStoresNothing()
    {
        var unknown = Guid.NewGuid();

        await (await api.AdminClient().PostAsync($"/v1/assistants/{unknown}/documents", Uploads.Form(UploadPdfTests.Handbook())))
            .ShouldBeProblemAsync(HttpStatusCode.NotFound);

        (await api.ScalarAsync<long>("SELECT count(*) FROM documents WHERE assistant_id = @id", new { id = unknown })).Should().Be(0);
    }
}
