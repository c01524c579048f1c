using System.Net;
using System.Net.Http.Json;
using System.Text;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.UploadPdf;

public class UploadPdfTests(ChatApiFactory api) : IClassFixture<ChatApiFactory>
{
    public const string Secret = "The secret launch code of Project Nightingale is amber falcon.";

    public static byte[] Handbook() => TestPdf.Create(
    [
        ["Company handbook.", "Our offices open at nine in the morning.", "Coffee is free in every kitchen."],
        ["Holidays are booked through the travel portal.", "Managers approve requests within two days."],
        ["Project notes.", Secret, "Do not share it outside the team."],
        ["Appendix.", "Parking permits are issued by the front desk."],
    ], title: "Staff Handbook", author: "People Team");

    private async Task<(HttpClient Client, string SessionId)> SessionAsync(string user)
    {
        var client = api.SocketClient(Tokens.For(user));
        var session = await (await client.PostAsJsonAsync("/v1/chat/sessions", new { model = "fake-gpt" })).JsonAsync();
        return (client, session.Str("id"));
    }

    [Fact]
    public async Task Upload_ExtractsTextPerPage_AndStoresTheFileWithItsMetadata()
    {
        var (client, sessionId) = await SessionAsync("uploader");
        var pdf = Handbook();

        var response = await client.PostAsync($"/v1/chat/sessions/{sessionId}/upload", Uploads.Form(pdf, "handbook.pdf"));

        var body = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.Str("message").Should().Be("File uploaded successfully");
        var file = body.GetProperty("file");
        file.Str("filename").Should().Be("handbook.pdf");
        file.Str("mime_type").Should().Be("application/pdf");
        file.GetProperty("file_size").GetInt64().Should().Be(pdf.Length);
        file.Str("extracted_text").Should().Contain(Secret).And.Contain("Parking permits");
        var metadata = file.GetProperty("metadata");
        metadata.GetProperty("page_count").GetInt32().Should().Be(4);
        metadata.Str("title").Should().Be("Staff Handbook");
        metadata.Str("author").Should().Be("People Team");
        metadata.Str("sha256").Should().HaveLength(64);

        var fileId = file.Str("id");
        (await api.ScalarAsync<string>("SELECT text FROM document_pages WHERE document_id = @id::uuid AND page = 3", new { id = fileId })).Should().Contain(Secret);
        (await api.ScalarAsync<long>("SELECT count(*) FROM chunks WHERE document_id = @id::uuid AND embedding_model = 'local-embed'", new { id = fileId })).Should().BePositive();

        var listed = await (await client.GetAsync($"/v1/chat/sessions/{sessionId}/files")).ShouldBeJsonAsync(HttpStatusCode.OK);
        listed.GetProperty("items").EnumerateArray().Single().TryGetProperty("extracted_text", out _).Should().BeFalse();
        var single = await (await client.GetAsync($"/v1/files/{fileId}")).ShouldBeJsonAsync(HttpStatusCode.OK);
        single.Str("extracted_text").Should().Contain(Secret);
        var content = await client.GetAsync($"/v1/files/{fileId}/content");
        content.Content.Headers.ContentType!.MediaType.Should().Be("application/pdf");
        (await content.Content.ReadAsByteArrayAsync()).Should().Equal(pdf);
    }

    [Fact]
    public async Task SameFileTwice_ReturnsTheStoredFile()
    {
        var (client, sessionId) = await SessionAsync("twice");
        var first = await (await client.PostAsync($"/v1/chat/sessions/{sessionId}/upload", Uploads.Form(Handbook()))).ShouldBeJsonAsync(HttpStatusCode.Created);

        var second = await (await client.PostAsync($"/v1/chat/sessions/{sessionId}/upload", Uploads.Form(Handbook(), "renamed.pdf"))).ShouldBeJsonAsync(HttpStatusCode.OK);

        second.GetProperty("file").Str("id").Should().Be(first.GetProperty("file").Str("id"));
        (await api.ScalarAsync<long>("SELECT count(*) FROM documents WHERE session_id = @id::uuid", new { id = sessionId })).Should().Be(1);
    }

    [Fact]
    public async Task AskingAboutPage3_CitesPage3_AndThePassageReachesTheModel()
    {
        api.Upstream.Script = new FakeScript();
        var (client, sessionId) = await SessionAsync("asker");
        var fileId = (await (await client.PostAsync($"/v1/chat/sessions/{sessionId}/upload", Uploads.Form(Handbook()))).JsonAsync()).GetProperty("file").Str("id");

        var response = await client.SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "What is the secret launch code of Project Nightingale?", session_id = sessionId }), HttpCompletionOption.ResponseHeadersRead);
        var events = await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync();

        var sources = events.Single(e => e.Event == "sources").Json.GetProperty("sources").EnumerateArray().ToList();
        sources.Should().NotBeEmpty();
        sources[0].Str("document_id").Should().Be(fileId);
        sources[0].GetProperty("page").GetInt32().Should().Be(3);
        sources[0].Str("title").Should().Be("Staff Handbook");
        sources[0].Str("snippet").Should().Contain("amber falcon");
        sources[0].Str("source").Should().Be("session");
        Guid.TryParse(sources[0].Str("chunk_id"), out _).Should().BeTrue();
        var system = api.Upstream.Requests.Last().Body["messages"]![0]!;
        system["role"]!.GetValue<string>().Should().Be("system");
        system["content"]!.GetValue<string>().Should().Contain("[1] (Staff Handbook, page 3)").And.Contain("amber falcon");
        var stored = await api.ScalarAsync<string>("SELECT sources::text FROM chat_messages WHERE session_id = @id::uuid AND role = 'assistant'", new { id = sessionId });
        stored.Should().Contain(fileId).And.Contain("\"page\": 3");
    }

    [Fact]
    public async Task TheLocalModel_AnswersByQuotingTheUploadedPdf()
    {
        var (client, sessionId) = await SessionAsync("offline");
        await client.PostAsync($"/v1/chat/sessions/{sessionId}/upload", Uploads.Form(Handbook()));

        var reply = await (await client.PostAsJsonAsync("/v1/chat/stream", new { query = "What is the secret launch code?", session_id = sessionId, model = "local-chat", stream = false })).JsonAsync();

        reply.GetProperty("message").Str("content").Should().Contain("amber falcon");
    }

    [Fact]
    public async Task EncryptedOrCorruptPdfs_Are422_WithAClearMessage()
    {
        var (client, sessionId) = await SessionAsync("bad-files");

        var encrypted = await (await client.PostAsync($"/v1/chat/sessions/{sessionId}/upload", Uploads.Form(TestPdf.Encrypted(Handbook())))).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
        encrypted.Str("detail").Should().Contain("encrypted");
        var corrupt = await (await client.PostAsync($"/v1/chat/sessions/{sessionId}/upload", Uploads.Form(TestPdf.Corrupt()))).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
        corrupt.Str("detail").Should().Contain("corrupt");
        (await api.ScalarAsync<long>("SELECT count(*) FROM documents WHERE session_id = @id::uuid", new { id = sessionId })).Should().Be(0);
    }

    [Fact]
    public async Task ANonPdfNamedPdf_Is415_WhateverItsHeaderSays()
    {
        var (client, sessionId) = await SessionAsync("liar");

        var problem = await (await client.PostAsync($"/v1/chat/sessions/{sessionId}/upload", Uploads.Form(TestPdf.NotAPdf(), "report.pdf", "application/pdf"))).ShouldBeProblemAsync(HttpStatusCode.UnsupportedMediaType);

        problem.Str("detail").Should().Contain("not a PDF");
    }

    [Fact]
    public async Task MissingFileField_Is422()
    {
        var (client, sessionId) = await SessionAsync("empty");
        var form = new MultipartFormDataContent { { new StringContent("x"), "other" } };

        var problem = await (await client.PostAsync($"/v1/chat/sessions/{sessionId}/upload", form)).ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);

        problem.GetProperty("errors").TryGetProperty("file", out _).Should().BeTrue();
    }

    [Fact]
    public async Task OversizedPdf_Is413_RefusedWhileItStreamsIn()
    {
        var (_, sessionId) = await SessionAsync("big");
        var form = Uploads.Form(TestPdf.Large(11 * 1024 * 1024), "big.pdf");
        var body = await form.ReadAsByteArrayAsync();
        var contentType = form.Headers.ContentType!.ToString();
        var token = Tokens.For("big");

        var announced = await Uploads.RawAsync(api.ServerAddress,
            $"POST /v1/chat/sessions/{sessionId}/upload HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: {contentType}\r\nContent-Length: {body.Length}\r\n\r\n", body);
        var chunked = await Uploads.RawAsync(api.ServerAddress,
            $"POST /v1/chat/sessions/{sessionId}/upload HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: {contentType}\r\nTransfer-Encoding: chunked\r\n\r\n",
            Chunked(body));

        announced.Should().StartWith("HTTP/1.1 413");
        chunked.Should().StartWith("HTTP/1.1 413");
        (await api.ScalarAsync<long>("SELECT count(*) FROM documents WHERE session_id = @id::uuid", new { id = sessionId })).Should().Be(0);
    }

    private static byte[] Chunked(byte[] body)
    {
        var output = new MemoryStream();
        foreach (var piece in body.Chunk(32 * 1024))
        {
            output.Write(Encoding.ASCII.GetBytes($"{piece.Length:X}\r\n"));
            output.Write(piece);
            output.Write("\r\n"u8);
        }
        output.Write("0\r\n\r\n"u8);
        return output.ToArray();
    }

    [Fact]
    public async Task AnotherUsersSessionOrFile_Is404_AndDeletingAFileRemovesItsChunks()
    {
        var (owner, sessionId) = await SessionAsync("file-owner");
        var fileId = (await (await owner.PostAsync($"/v1/chat/sessions/{sessionId}/upload", Uploads.Form(Handbook()))).JsonAsync()).GetProperty("file").Str("id");
        var intruder = api.SocketClient(Tokens.For("file-intruder"));

        (await intruder.PostAsync($"/v1/chat/sessions/{sessionId}/upload", Uploads.Form(Handbook()))).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await intruder.GetAsync($"/v1/chat/sessions/{sessionId}/files")).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await intruder.GetAsync($"/v1/files/{fileId}")).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await intruder.GetAsync($"/v1/files/{fileId}/content")).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await intruder.DeleteAsync($"/v1/files/{fileId}")).StatusCode.Should().Be(HttpStatusCode.NotFound);
        (await intruder.PostAsJsonAsync("/v1/chat/stream", new { query = "x", document_ids = new[] { fileId }, context_mode = "document" })).StatusCode.Should().Be(HttpStatusCode.NotFound);

        (await owner.DeleteAsync($"/v1/files/{fileId}")).StatusCode.Should().Be(HttpStatusCode.NoContent);
        (await api.ScalarAsync<long>("SELECT count(*) FROM chunks WHERE document_id = @id::uuid", new { id = fileId })).Should().Be(0);
        (await api.ScalarAsync<long>("SELECT count(*) FROM document_pages WHERE document_id = @id::uuid", new { id = fileId })).Should().Be(0);
    }

    [Fact]
    public async Task DeletingASession_RemovesItsFilesAndChunks()
    {
        var (client, sessionId) = await SessionAsync("session-deleter");
        var fileId = (await (await client.PostAsync($"/v1/chat/sessions/{sessionId}/upload", Uploads.Form(Handbook()))).JsonAsync()).GetProperty("file").Str("id");

        (await client.DeleteAsync($"/v1/chat/sessions/{sessionId}")).StatusCode.Should().Be(HttpStatusCode.OK);

        (await api.ScalarAsync<long>("SELECT count(*) FROM documents WHERE id = @id::uuid", new { id = fileId })).Should().Be(0);
        (await api.ScalarAsync<long>("SELECT count(*) FROM chunks WHERE document_id = @id::uuid", new { id = fileId })).Should().Be(0);
    }
}
