using System.Text.Json;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Documents;
using ChatSlices.Infrastructure.Telemetry;
using Dapper;
using Npgsql;
using Pgvector;

namespace ChatSlices.Features.StreamChat;

/// <summary>A passage of context with what the client needs to cite it.</summary>
/// <param name="Private">From a document of the session's own (not the assistant's knowledge): an answer built on it is never shared.</param>
public sealed record Passage(Guid DocumentId, string Title, int Page, Guid? ChunkId, double Score, string Content, string Source, bool Private);

/// <summary>What to retrieve for one turn.</summary>
public sealed record RetrievalRequest(
    Guid SessionId, Guid? AssistantId, string Mode, RagConfig? Rag, AttachmentConfig? Attachments, IReadOnlyList<Guid>? DocumentIds,
    ModelSpec EmbeddingModel, string Question, int TokenBudget, TokenCounter ChatTokens);

/// <summary>
/// Context for a chat turn, per <c>context_mode</c>: <c>rag</c> (vector search over the session's and the
/// assistant's documents, per <c>rag_config</c> source and strategy), <c>attachment</c> (the listed documents, whole or
/// their best excerpts), <c>document</c> (whole documents), <c>hybrid</c> (attachments, then rag) or <c>none</c>.
/// Every search is one SQL round trip per source; the question is embedded once per turn (<see cref="QuestionEmbedding"/>).
/// </summary>
public sealed class Retriever(NpgsqlDataSource db, DocumentIngestion ingestion)
{
    private const int RrfK = 60;
    private const int MaxParallelSearches = 3;

    // Dapper fills it by constructor: the columns come in this order.
    private sealed record Row(Guid ChunkId, Guid DocumentId, string Title, string Content, bool Private, int Page, double Score);

    private sealed record PageRow(Guid DocumentId, string Title, int Page, string Text);

    public async Task<IReadOnlyList<Passage>> RetrieveAsync(RetrievalRequest request, QuestionEmbedding question, CancellationToken ct)
    {
        using var span = ChatTelemetry.Step("retrieve");
        span?.SetTag("chatslices.retrieval.mode", request.Mode);
        var passages = new List<Passage>();
        if (request.Mode is "attachment" or "hybrid") passages.AddRange(await AttachmentsAsync(request, question, ct));
        if (request.Mode == "document") passages.AddRange(await WholeDocumentsAsync(request, request.DocumentIds ?? [], null, "document", ct));
        if (request.Mode is "rag" or "hybrid")
            passages.AddRange((await RagAsync(request, question, ct)).Where(p => passages.All(q => q.ChunkId != p.ChunkId || p.ChunkId is null)));
        var kept = WithinBudget(passages, request.TokenBudget, request.ChatTokens);
        span?.SetTag("chatslices.retrieval.passages", kept.Count);
        return kept;
    }

    private static List<Passage> WithinBudget(IEnumerable<Passage> passages, int budget, TokenCounter tokens)
    {
        var kept = new List<Passage>();
        var used = 0;
        foreach (var passage in passages)
        {
            var cost = tokens.CountMessage(passage.Content);
            if (used + cost > budget) break;
            kept.Add(passage);
            used += cost;
        }
        return kept;
    }

    private async Task<IEnumerable<Passage>> RagAsync(RetrievalRequest request, QuestionEmbedding question, CancellationToken ct)
    {
        var rag = request.Rag ?? new RagConfig(null, null, null);
        var sources = rag.Sources is { Count: > 0 }
            ? rag.Sources
            : request.AssistantId is null ? [new RagSource("session", null, null, null, null, null)]
                : [new RagSource("session", null, null, null, null, null), new RagSource("assistant", null, null, null, null, null)];
        var max = rag.MaxTotalResults ?? 10;
        var strategy = rag.RetrievalStrategy ?? "merge";

        if (!await ingestion.EnsureChunksAsync(new DocumentOwner(request.SessionId, request.AssistantId), request.EmbeddingModel, ct)) return [];
        var query = await question.GetAsync(ct);
        if (IsZero(query.Memory.Span)) return []; // a question without words has no direction: nothing is near it

        if (strategy == "sequential")
        {
            var found = new List<Passage>();
            foreach (var source in sources)
            {
                if (found.Count >= max) break;
                var hits = await VectorSearchAsync(request, source, query, ct);
                found.AddRange(hits.Where(h => found.All(f => f.ChunkId != h.ChunkId)).Take(max - found.Count));
            }
            return found;
        }

        // A few searches at a time: one turn must not take every pooled connection.
        using var searches = new SemaphoreSlim(MaxParallelSearches);
        var perSource = await Task.WhenAll(sources.Select(async source =>
        {
            await searches.WaitAsync(ct);
            try
            {
                return strategy == "ensemble" ? await EnsembleAsync(request, source, query, ct) : await VectorSearchAsync(request, source, query, ct);
            }
            finally
            {
                searches.Release();
            }
        }));
        return perSource.SelectMany(hits => hits)
            .GroupBy(p => p.ChunkId)
            .Select(g => g.MaxBy(p => p.Score)!)
            .OrderByDescending(p => p.Score)
            .Take(max);
    }

    private async Task<List<Passage>> VectorSearchAsync(RetrievalRequest request, RagSource source, Vector query, CancellationToken ct)
    {
        var (rows, _) = await SearchAsync(request, source, query, withText: false, ct);
        var weight = source.Weight ?? 1;
        return rows.Select(r => ToPassage(r, r.Score * weight, source.Name!)).ToList();
    }

    /// <summary>Reciprocal-rank fusion of the vector ranking and the full-text ranking of one source.</summary>
    private async Task<List<Passage>> EnsembleAsync(RetrievalRequest request, RagSource source, Vector query, CancellationToken ct)
    {
        var (vector, text) = await SearchAsync(request, source, query, withText: true, ct);
        var weight = source.Weight ?? 1;
        var fused = new Dictionary<Guid, (Row Row, double Score)>();
        foreach (var ranking in new[] { vector, text })
            for (var rank = 0; rank < ranking.Count; rank++)
            {
                var row = ranking[rank];
                var score = fused.TryGetValue(row.ChunkId, out var seen) ? seen.Score : 0;
                fused[row.ChunkId] = (seen.Row ?? row, score + 1.0 / (RrfK + rank + 1));
            }
        return fused.Values.OrderByDescending(f => f.Score).Take(source.Limit ?? 5)
            .Select(f => ToPassage(f.Row, f.Score * weight, source.Name!)).ToList();
    }

    private static Passage ToPassage(Row row, double score, string source) =>
        new(row.DocumentId, row.Title, row.Page, row.ChunkId, double.IsFinite(score) ? Math.Round(score, 6) : 0, row.Content, source, row.Private);

    private static bool IsZero(ReadOnlySpan<float> vector)
    {
        foreach (var x in vector) if (x != 0) return false;
        return true;
    }

    /// <summary>One round trip: the nearest chunks (and, for ensemble, the best full-text matches) of one source.</summary>
    private async Task<(List<Row> Vector, List<Row> Text)> SearchAsync(RetrievalRequest request, RagSource source, Vector query, bool withText, CancellationToken ct)
    {
        var dimensions = request.EmbeddingModel.Dimensions ?? throw new InvalidOperationException($"Embedding model '{request.EmbeddingModel.Id}' has no Dimensions.");
        var scope = source.Name switch
        {
            "session" => "c.session_id = @SessionId",
            "assistant" => "c.assistant_id = @AssistantId",
            _ => "(c.session_id = @SessionId OR c.assistant_id = @AssistantId) AND c.metadata @> jsonb_build_object('collection', @Collection::text)",
        };
        // A chunk that runs over pages is cited by the page that matches the question best.
        const string rowColumns = """
            h.chunk_id, h.document_id, coalesce(d.metadata->>'title', d.filename) AS title, h.content, d.session_id IS NOT NULL AS private,
            CASE WHEN h.page_from = h.page_to OR @Words = '' THEN h.page_from ELSE coalesce((
                SELECT p.page FROM document_pages p
                WHERE p.document_id = h.document_id AND p.page BETWEEN h.page_from AND h.page_to
                ORDER BY ts_rank(to_tsvector('simple', p.text), to_tsquery('simple', @Words)) DESC, p.page
                LIMIT 1), h.page_from) END AS page
            """;
        // The cast's dimension is a number from the catalog: type modifiers cannot be parameters.
        var vectorSql = $"""
            WITH hits AS MATERIALIZED (
                SELECT c.id AS chunk_id, c.document_id, c.page_from, c.page_to, c.content,
                       c.embedding::vector({dimensions}) <=> @Query AS distance
                FROM chunks c
                WHERE c.embedding_model = @Model AND {scope} AND c.metadata @> @Filters::jsonb
                ORDER BY c.embedding::vector({dimensions}) <=> @Query
                LIMIT @Limit
            )
            SELECT {rowColumns}, 1 - h.distance AS score
            FROM hits h JOIN documents d ON d.id = h.document_id
            WHERE 1 - h.distance >= @Threshold
            ORDER BY h.distance;
            """;
        var textSql = $"""
            WITH hits AS (
                SELECT c.id AS chunk_id, c.document_id, c.page_from, c.page_to, c.content, ts_rank(c.search, q.query) AS rank
                FROM chunks c, to_tsquery('simple', @Words) q(query)
                WHERE c.embedding_model = @Model AND {scope} AND c.metadata @> @Filters::jsonb AND c.search @@ q.query
                ORDER BY rank DESC
                LIMIT @Limit
            )
            SELECT {rowColumns}, h.rank::float8 AS score FROM hits h JOIN documents d ON d.id = h.document_id ORDER BY h.rank DESC;
            """;
        var words = Words(request.Question);
        var args = new
        {
            request.SessionId, request.AssistantId, Collection = source.Name, Model = request.EmbeddingModel.Id, Query = query,
            Filters = JsonSerializer.Serialize(source.MetadataFilters ?? []), Limit = source.Limit ?? 5,
            Threshold = source.SimilarityThreshold ?? 0.0, Words = words,
        };

        await using var conn = await db.OpenConnectionAsync(ct);
        var sql = withText && words.Length > 0 ? vectorSql + textSql : vectorSql;
        await using var results = await conn.QueryMultipleAsync(new CommandDefinition(sql, args, cancellationToken: ct));
        var vector = (await results.ReadAsync<Row>()).AsList();
        var text = withText && words.Length > 0 ? (await results.ReadAsync<Row>()).AsList() : [];
        return (vector, text);
    }

    /// <summary>The question's words OR-ed into a tsquery; only letters and digits, so the text is safe to parse.</summary>
    private static string Words(string question) => string.Join(" | ", Snippets.Words(question).Distinct().Take(32));

    private async Task<IEnumerable<Passage>> AttachmentsAsync(RetrievalRequest request, QuestionEmbedding question, CancellationToken ct)
    {
        var passages = new List<Passage>();
        foreach (var attachment in request.Attachments?.Attachments ?? [])
        {
            var id = attachment.DocumentId!.Value;
            var budget = attachment.MaxTokens ?? request.TokenBudget;
            var found = attachment.IncludeFullContent == false
                ? await BestExcerptsAsync(request, question, id, ct)
                : await WholeDocumentsAsync(request, [id], attachment.Title, "attachment", ct);
            passages.AddRange(WithinBudget(found, budget, request.ChatTokens));
        }
        return passages;
    }

    private async Task<IEnumerable<Passage>> BestExcerptsAsync(RetrievalRequest request, QuestionEmbedding question, Guid documentId, CancellationToken ct)
    {
        var owner = new DocumentOwner(request.SessionId, request.AssistantId);
        await ingestion.EnsureChunksAsync(owner, request.EmbeddingModel, ct);
        var query = await question.GetAsync(ct);
        var dimensions = request.EmbeddingModel.Dimensions!.Value;
        await using var conn = await db.OpenConnectionAsync(ct);
        var rows = await conn.QueryAsync<Row>(new CommandDefinition($"""
            SELECT c.id AS chunk_id, c.document_id, coalesce(d.metadata->>'title', d.filename) AS title, c.content, d.session_id IS NOT NULL AS private, c.page_from AS page,
                   1 - (c.embedding::vector({dimensions}) <=> @Query) AS score
            FROM chunks c JOIN documents d ON d.id = c.document_id
            WHERE c.document_id = @DocumentId AND c.embedding_model = @Model
            ORDER BY c.embedding::vector({dimensions}) <=> @Query
            LIMIT 20
            """, new { DocumentId = documentId, Model = request.EmbeddingModel.Id, Query = query }, cancellationToken: ct));
        return rows.Select(r => ToPassage(r, r.Score, "attachment"));
    }

    private async Task<IEnumerable<Passage>> WholeDocumentsAsync(RetrievalRequest request, IReadOnlyList<Guid> ids, string? title, string source, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var pages = await conn.QueryAsync<PageRow>(new CommandDefinition("""
            SELECT p.document_id, coalesce(d.metadata->>'title', d.filename) AS title, p.page, p.text
            FROM document_pages p JOIN documents d ON d.id = p.document_id
            WHERE p.document_id = ANY(@Ids) AND d.session_id = @SessionId AND p.text <> ''
            ORDER BY array_position(@Ids, p.document_id), p.page
            """, new { Ids = ids.ToArray(), request.SessionId }, cancellationToken: ct));
        return pages.Select(p => new Passage(p.DocumentId, title ?? p.Title, p.Page, null, 1.0, p.Text, source, Private: true));
    }
}
