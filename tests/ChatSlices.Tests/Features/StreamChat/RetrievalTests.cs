using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Features.StreamChat;

/// <summary>Each context mode and retrieval strategy over one session holding two documents in two collections.</summary>
public class RetrievalTests : IClassFixture<RetrievalTests.Library>
{
    public sealed class Library : ChatApiFactory
    {
        public const string VacationQuestion = "How many vacation days do employees receive per year?";
        public HttpClient Client { get; private set; } = null!;
        public string SessionId { get; private set; } = "";
        public string Handbook { get; private set; } = "";
        public string Engineering { get; private set; } = "";

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            Upstream.Script = new FakeScript();
            Client = SocketClient(Tokens.For("librarian"));
            SessionId = (await (await Client.PostAsJsonAsync("/v1/chat/sessions", new { model = "fake-gpt" })).JsonAsync()).Str("id");
            Handbook = await UploadAsync("handbook.pdf", """{"collection": "handbook"}""",
            [
                ["Vacation policy.", "Employees receive twenty five vacation days per year.", "Unused vacation days expire in March."],
                ["Expenses.", "Receipts for travel expenses are submitted within thirty days."],
            ]);
            Engineering = await UploadAsync("engineering.pdf", """{"collection": "engineering"}""",
            [
                ["Deployment process.", "Deployments to production happen every Tuesday after the release review."],
                ["On-call.", "The on-call engineer answers pages within fifteen minutes."],
            ]);
        }

        private async Task<string> UploadAsync(string name, string metadata, IReadOnlyList<IReadOnlyList<string>> pages)
        {
            var response = await Client.PostAsync($"/v1/chat/sessions/{SessionId}/upload", Uploads.Form(TestPdf.Create(pages), name, metadata: metadata));
            return (await response.ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("file").Str("id");
        }
    }

    private readonly Library _library;

    public RetrievalTests(Library library) => _library = library;

    private async Task<List<JsonElement>> SourcesAsync(object extra, string question = Library.VacationQuestion)
    {
        var body = JsonSerializer.SerializeToNode(extra)!.AsObject();
        body["query"] = question;
        body["session_id"] = _library.SessionId;
        body["stream"] = false;
        var response = await _library.Client.PostAsJsonAsync("/v1/chat/stream", body);
        return (await response.ShouldBeJsonAsync(HttpStatusCode.OK)).GetProperty("sources").EnumerateArray().ToList();
    }

    private string LastSystemPrompt()
    {
        var first = _library.Upstream.Requests.Last().Body["messages"]![0]!;
        return first["role"]!.GetValue<string>() == "system" ? first["content"]!.GetValue<string>() : "";
    }

    [Fact]
    public async Task Rag_FindsTheRelevantDocument_AndPutsItInThePrompt()
    {
        var sources = await SourcesAsync(new { });

        sources[0].Str("document_id").Should().Be(_library.Handbook);
        sources[0].GetProperty("page").GetInt32().Should().Be(1);
        LastSystemPrompt().Should().Contain("twenty five vacation days");
    }

    [Fact]
    public async Task Threshold_DropsWeakMatches()
    {
        var sources = await SourcesAsync(new { rag_config = new { sources = new[] { new { name = "session", similarity_threshold = 0.99 } } } });

        sources.Should().BeEmpty();
        LastSystemPrompt().Should().NotContain("vacation days");
    }

    [Fact]
    public async Task MetadataFilters_ExcludeWhatDoesNotMatch()
    {
        var sources = await SourcesAsync(new { rag_config = new { sources = new[] { new { name = "session", metadata_filters = new { collection = "engineering" } } } } });

        sources.Should().NotBeEmpty().And.OnlyContain(s => s.Str("document_id") == _library.Engineering);
    }

    [Fact]
    public async Task NamedCollection_SearchesOnlyThatCollection()
    {
        var sources = await SourcesAsync(new { rag_config = new { sources = new[] { new { name = "handbook" } } } }, "When do deployments to production happen?");

        sources.Should().NotBeEmpty().And.OnlyContain(s => s.Str("document_id") == _library.Handbook && s.Str("source") == "handbook");
    }

    [Fact]
    public async Task MaxTotalResults_CapsTheSources()
    {
        (await SourcesAsync(new { rag_config = new { max_total_results = 1 } })).Should().ContainSingle();
    }

    [Fact]
    public async Task Sequential_TakesSourcesInOrder_WhereMergeRanksByScore()
    {
        var sources = new object[] { new { name = "engineering", limit = 1 }, new { name = "handbook", limit = 1 } };

        var sequential = await SourcesAsync(new { rag_config = new { sources, retrieval_strategy = "sequential", max_total_results = 2 } });
        var merged = await SourcesAsync(new { rag_config = new { sources, retrieval_strategy = "merge", max_total_results = 2 } });

        sequential.Select(s => s.Str("source")).Should().Equal("engineering", "handbook");
        merged.Select(s => s.Str("source")).Should().Equal("handbook", "engineering");
    }

    [Fact]
    public async Task Merge_WeighsSources()
    {
        var sources = new object[] { new { name = "handbook", weight = 0.1 }, new { name = "engineering", weight = 2.0 } };

        var merged = await SourcesAsync(new { rag_config = new { sources, retrieval_strategy = "merge" } });

        merged[0].Str("source").Should().Be("engineering");
    }

    [Fact]
    public async Task Ensemble_FusesVectorAndFullTextRanks()
    {
        var sources = await SourcesAsync(new { rag_config = new { retrieval_strategy = "ensemble" } });

        sources[0].Str("document_id").Should().Be(_library.Handbook);
        // Reciprocal-rank fusion: first in both rankings scores 2/61; the vector score itself would be a cosine.
        sources[0].GetProperty("score").GetDouble().Should().BeApproximately(2.0 / 61, 1e-4);
        sources.Should().OnlyContain(s => s.GetProperty("score").GetDouble() <= 2.0 / 61 + 1e-6);
    }

    [Fact]
    public async Task Attachment_GivesTheWholeListedDocument_WhateverTheQuestion()
    {
        var sources = await SourcesAsync(new { context_mode = "attachment", attachment_config = new { attachments = new[] { new { document_id = _library.Engineering } } } });

        sources.Select(s => s.GetProperty("page").GetInt32()).Should().Equal(1, 2);
        sources.Should().OnlyContain(s => s.Str("document_id") == _library.Engineering && s.Str("source") == "attachment"
                                          && s.GetProperty("chunk_id").ValueKind == JsonValueKind.Null);
        LastSystemPrompt().Should().Contain("every Tuesday").And.NotContain("vacation days per year");
    }

    [Fact]
    public async Task Attachment_WithoutFullContent_GivesItsBestExcerpts_WithinMaxTokens()
    {
        var excerpts = await SourcesAsync(new { context_mode = "attachment", attachment_config = new { attachments = new[] { new { document_id = _library.Engineering, include_full_content = false } } } });
        var tiny = await SourcesAsync(new { context_mode = "attachment", attachment_config = new { attachments = new[] { new { document_id = _library.Engineering, max_tokens = 5 } } } });

        excerpts.Should().NotBeEmpty().And.OnlyContain(s => s.Str("document_id") == _library.Engineering && s.GetProperty("chunk_id").ValueKind == JsonValueKind.String);
        tiny.Should().BeEmpty("not even one page fits in 5 tokens");
    }

    [Fact]
    public async Task Document_GivesWholeDocumentsById()
    {
        var sources = await SourcesAsync(new { context_mode = "document", document_ids = new[] { _library.Handbook } });

        sources.Select(s => s.GetProperty("page").GetInt32()).Should().Equal(1, 2);
        sources.Should().OnlyContain(s => s.Str("document_id") == _library.Handbook && s.Str("source") == "document");
    }

    [Fact]
    public async Task Hybrid_GivesAttachmentsAndSearchResults()
    {
        var sources = await SourcesAsync(new { context_mode = "hybrid", attachment_config = new { attachments = new[] { new { document_id = _library.Engineering } } } });

        sources.Select(s => s.Str("source")).Should().Contain("attachment").And.Contain("session");
        sources.Where(s => s.Str("source") == "session").Should().Contain(s => s.Str("document_id") == _library.Handbook);
    }

    [Fact]
    public async Task None_RetrievesNothing()
    {
        (await SourcesAsync(new { context_mode = "none" })).Should().BeEmpty();
        LastSystemPrompt().Should().BeEmpty();
    }

    [Fact]
    public async Task AnotherEmbeddingModel_FindsReEmbeddedFilesUploadedWithoutMetadata()
    {
        var sessionId = (await (await _library.Client.PostAsJsonAsync("/v1/chat/sessions", new { model = "fake-gpt" })).JsonAsync()).Str("id");
        var upload = await _library.Client.PostAsync($"/v1/chat/sessions/{sessionId}/upload",
            Uploads.Form(TestPdf.Create([["Parking.", "Visitors park in the garage behind the north building."]])));
        var fileId = (await upload.ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("file").Str("id");

        var response = await _library.Client.PostAsJsonAsync("/v1/chat/stream",
            new { query = "Where do visitors park?", session_id = sessionId, stream = false, embedding_model = "fake-embed" });

        var sources = (await response.ShouldBeJsonAsync(HttpStatusCode.OK)).GetProperty("sources").EnumerateArray().ToList();
        sources.Should().NotBeEmpty().And.OnlyContain(s => s.Str("document_id") == fileId);
    }

    [Fact]
    public async Task ConcurrentTurnsWithANewEmbeddingModel_ReEmbedOnce_AndAllAnswer()
    {
        var sessionId = (await (await _library.Client.PostAsJsonAsync("/v1/chat/sessions", new { model = "fake-gpt" })).JsonAsync()).Str("id");
        await (await _library.Client.PostAsync($"/v1/chat/sessions/{sessionId}/upload",
            Uploads.Form(TestPdf.Create([["Lunch.", "The canteen serves lunch from noon until two."]])))).ShouldBeJsonAsync(HttpStatusCode.Created);

        var responses = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => _library.Client.PostAsJsonAsync("/v1/chat/stream",
            new { query = "When is lunch served?", session_id = sessionId, stream = false, embedding_model = "fake-embed" })));

        foreach (var response in responses)
            (await response.ShouldBeJsonAsync(HttpStatusCode.OK)).GetProperty("sources").GetArrayLength().Should().BeGreaterThan(0);
        (await _library.ScalarAsync<long>("SELECT count(*) FROM chunks WHERE session_id = @id::uuid AND embedding_model = 'fake-embed'", new { id = sessionId }))
            .Should().Be(1);
    }

    [Fact]
    public async Task AnotherEmbeddingModel_ReEmbedsTheDocuments_InsteadOfMixingVectors()
    {
        var sources = await SourcesAsync(new { embedding_model = "fake-embed" });

        sources.Should().NotBeEmpty();
        (await _library.ScalarAsync<long>("SELECT count(DISTINCT document_id) FROM chunks WHERE session_id = @id::uuid AND embedding_model = 'fake-embed'", new { id = _library.SessionId }))
            .Should().Be(2);
        (await _library.ScalarAsync<long>("SELECT count(DISTINCT document_id) FROM chunks WHERE session_id = @id::uuid AND embedding_model = 'local-embed'", new { id = _library.SessionId }))
            .Should().Be(2);
    }
}
