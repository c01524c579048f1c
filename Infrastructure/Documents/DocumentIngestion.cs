using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Database;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.RateLimiting;
using ChatSlices.Infrastructure.Telemetry;
using ChatSlices.Infrastructure.Usage;
using Dapper;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Npgsql;
using Pgvector;

namespace ChatSlices.Infrastructure.Documents;

/// <summary>Who a document belongs to: a session or an assistant's knowledge.</summary>
public sealed record DocumentOwner(Guid? SessionId, Guid? AssistantId);

/// <summary>A stored file as API.md shows it; <see cref="ExtractedText"/> only where the route includes it.</summary>
public sealed record FileView(
    Guid Id, string Filename, long FileSize, string MimeType, JsonElement Metadata, DateTime CreatedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ExtractedText);

/// <summary>
/// PDF in, searchable knowledge out: text per page (poppler), page-aware chunks, embeddings in batches, all stored in
/// one transaction (with, for an assistant's knowledge, the bump of its <c>knowledge_version</c>, and the embedding tokens
/// in the usage ledger). The same bytes for the same owner (by sha256) give back the stored file.
/// </summary>
public sealed class DocumentIngestion(
    NpgsqlDataSource db, PdfText pdfText, ModelCatalog catalog, ModelProviders providers, UploadQuota quota, UsageLedger ledger,
    IOptions<AiSettings> ai, IOptions<UploadSettings> uploads)
{
    private const int EmbeddingBatch = 64;

    private const string BaseColumns = "d.id, d.filename, d.file_size, d.mime_type, d.metadata, d.created_at";

    /// <summary>A file without its text (lists).</summary>
    public const string FileColumns = BaseColumns + ", NULL::text AS extracted_text";

    /// <summary>A file with its text, pages joined by blank lines.</summary>
    public const string FileWithTextColumns = BaseColumns + """
        , (SELECT string_agg(p.text, E'\n\n' ORDER BY p.page) FROM document_pages p WHERE p.document_id = d.id) AS extracted_text
        """;

    private const string FindSql = $"""
        SELECT {FileWithTextColumns} FROM documents d
        WHERE d.sha256 = @Sha256 AND (d.session_id = @SessionId OR d.assistant_id = @AssistantId)
        """;

    // An assistant's knowledge changes with the document, in the same transaction: its knowledge_version (the semantic
    // cache's scope) moves on exactly when the document becomes visible, never before or after (no-op for a session's file).
    private const string InsertDocumentSql = """
        INSERT INTO documents (id, session_id, assistant_id, uploaded_by, filename, mime_type, file_size, sha256, content, page_count, metadata)
        VALUES (@Id, @SessionId, @AssistantId, @UploadedBy, @Filename, 'application/pdf', @FileSize, @Sha256, @Content, @PageCount, @Metadata::jsonb);
        INSERT INTO document_pages (document_id, page, text)
        SELECT @Id, p.page, p.text FROM unnest(@Pages::text[]) WITH ORDINALITY AS p(text, page);
        UPDATE assistants SET knowledge_version = knowledge_version + 1, updated_at = now() WHERE id = @AssistantId;
        """;

    // Chunking is deterministic: turns that re-embed the same document at once insert the same ordinals, and the
    // first one to commit wins (the others wait for it on the unique index, then insert nothing).
    private const string InsertChunksSql = """
        INSERT INTO chunks (id, document_id, session_id, assistant_id, embedding_model, ordinal, page_from, page_to, content, embedding, metadata)
        SELECT c.id, @DocumentId, @SessionId, @AssistantId, @Model, c.ordinal, c.page_from, c.page_to, c.content, c.embedding, @Metadata::jsonb
        FROM unnest(@Ids::uuid[], @Ordinals::int[], @PagesFrom::int[], @PagesTo::int[], @Contents::text[], @Embeddings)
             AS c(id, ordinal, page_from, page_to, content, embedding)
        ON CONFLICT (document_id, embedding_model, ordinal) DO NOTHING
        """;

    // Embeddings made for a turn that asked for another embedding model count for the session's owner (an assistant's
    // knowledge, re-embedded for whoever asked, for nobody's report).
    private const string InsertReEmbeddingUsageSql = """
        INSERT INTO usage_ledger (user_id, kind, model, prompt_tokens, completion_tokens, cost, estimated, session_id, document_id)
        VALUES ((SELECT user_id FROM chat_sessions WHERE id = @SessionId), @Kind, @Model, @PromptTokens, @CompletionTokens, @Cost, @Estimated,
                @SessionId, @DocumentId)
        """;

    /// <summary>The vectors of a document's chunks, and what making them spent.</summary>
    private sealed record Embedded(List<Vector> Vectors, long Tokens, bool Estimated);

    // A file uploaded without metadata has "custom": null; its chunks get {} like at upload, or no search (metadata @> ...) finds them.
    private const string MissingChunksSql = """
        SELECT EXISTS (SELECT 1 FROM documents d WHERE d.session_id = @SessionId OR d.assistant_id = @AssistantId);
        SELECT d.id, d.session_id, d.assistant_id, coalesce(nullif(d.metadata->'custom', 'null'), '{}') AS metadata,
               array(SELECT p.text FROM document_pages p WHERE p.document_id = d.id ORDER BY p.page) AS pages
        FROM documents d
        WHERE (d.session_id = @SessionId OR d.assistant_id = @AssistantId)
          AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.document_id = d.id AND c.embedding_model = @Model)
        """;

    public ModelSpec DefaultEmbeddingModel =>
        catalog.Find(ai.Value.EmbeddingModel, ModelKind.Embedding)
        ?? throw new InvalidOperationException($"AI:EmbeddingModel '{ai.Value.EmbeddingModel}' is not an embedding model of the catalog.");

    /// <summary>
    /// Stores the PDF with its pages and chunks, counted against the uploader's daily upload quota (reserved before the PDF
    /// is read, given back when nothing is stored); the embedding tokens it spent go into the uploader's usage.
    /// </summary>
    /// <param name="uploader">A signed-in caller: the file's <c>uploaded_by</c>, whose quota and usage it counts in.</param>
    /// <returns>
    /// The file, and whether it was created (false: the same bytes were already there, which counts nothing); or 429 (over
    /// the daily quota), 503 (the extraction queue is full), 422 (not a readable PDF).
    /// </returns>
    public async Task<Outcome<(FileView File, bool Created)>> IngestAsync(
        DocumentOwner owner, Caller uploader, string filename, byte[] bytes, JsonElement? userMetadata, CancellationToken ct)
    {
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (await FindAsync(owner, sha256, ct) is { } existing) return (existing, false);

        var reserved = await quota.ReserveAsync(uploader, bytes.Length, ct);
        if (reserved.Failure is { } overQuota) return overQuota;
        var created = false;
        try
        {
            var stored = await StoreAsync(owner, uploader.Subject, filename, bytes, sha256, userMetadata, ct);
            if (stored.Failure is { } failure) return failure;
            created = stored.Value;
        }
        finally
        {
            if (!created && reserved.Value is { } reservation) await quota.ReleaseAsync(reservation);
        }
        return ((await FindAsync(owner, sha256, ct))!, created);
    }

    /// <returns>True when this upload stored the document; false when the same bytes were stored by another one meanwhile.</returns>
    private async Task<Outcome<bool>> StoreAsync(
        DocumentOwner owner, string uploadedBy, string filename, byte[] bytes, string sha256, JsonElement? userMetadata, CancellationToken ct)
    {
        var extracted = await pdfText.ExtractAsync(bytes, ct);
        if (extracted.Failure is { } failure) return failure;
        var pdf = extracted.Value!;
        var model = DefaultEmbeddingModel;
        var chunks = Chunker.Split(pdf.Pages, model, uploads.Value);
        var embedded = await EmbedAsync(model, chunks, ct);

        var id = Guid.CreateVersion7();
        var usage = new UsageEntry(uploadedBy, UsageKind.Embedding, model.Id, embedded.Tokens, 0, model.Cost(embedded.Tokens, 0), embedded.Estimated)
        {
            SessionId = owner.SessionId, DocumentId = id,
        };
        var metadata = new Dictionary<string, object?>
        {
            ["page_count"] = pdf.Pages.Count, ["title"] = pdf.Title, ["author"] = pdf.Author, ["sha256"] = sha256,
            ["chunk_count"] = chunks.Count, ["embedding_model"] = model.Id, ["custom"] = userMetadata,
        };
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        try
        {
            await conn.ExecuteAsync(new CommandDefinition(InsertDocumentSql, new
            {
                Id = id, owner.SessionId, owner.AssistantId, UploadedBy = uploadedBy, Filename = filename, FileSize = (long)bytes.Length,
                Sha256 = sha256, Content = bytes, PageCount = pdf.Pages.Count, Metadata = JsonSerializer.Serialize(metadata), Pages = pdf.Pages.ToArray(),
            }, tx, cancellationToken: ct));
            await InsertChunksAsync(conn, tx, id, owner, model, chunks, embedded.Vectors, userMetadata, ct);
            await conn.ExecuteAsync(new CommandDefinition(UsageLedger.InsertSql, usage, tx, cancellationToken: ct));
            await tx.CommitAsync(ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            // The same file arrived twice at once: the other upload won, but these embeddings were made (and paid for) too.
            await tx.RollbackAsync(CancellationToken.None);
            await ledger.RecordAsync(usage with { DocumentId = null }, null, 0);
            return false;
        }
        return true;
    }

    /// <summary>
    /// Chunks and embeds, with <paramref name="model"/>, the owner's documents that have no chunks of that model yet.
    /// </summary>
    /// <returns>Whether the owner has any document at all (nothing to search otherwise).</returns>
    public async Task<bool> EnsureChunksAsync(DocumentOwner owner, ModelSpec model, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        List<(Guid Id, Guid? SessionId, Guid? AssistantId, string Metadata, string[] Pages)> missing;
        await using (var results = await conn.QueryMultipleAsync(new CommandDefinition(MissingChunksSql,
            new { owner.SessionId, owner.AssistantId, Model = model.Id }, cancellationToken: ct)))
        {
            if (!await results.ReadSingleAsync<bool>()) return false;
            missing = (await results.ReadAsync<(Guid, Guid?, Guid?, string, string[])>()).AsList();
        }
        foreach (var document in missing)
        {
            var chunks = Chunker.Split(document.Pages, model, uploads.Value);
            var embedded = await EmbedAsync(model, chunks, ct);
            var metadata = JsonDocument.Parse(document.Metadata).RootElement;
            await using var tx = await conn.BeginTransactionAsync(ct);
            await InsertChunksAsync(conn, tx, document.Id, new DocumentOwner(document.SessionId, document.AssistantId), model, chunks, embedded.Vectors, metadata, ct);
            await conn.ExecuteAsync(new CommandDefinition(InsertReEmbeddingUsageSql, new UsageEntry(null, UsageKind.Embedding, model.Id, embedded.Tokens, 0,
                model.Cost(embedded.Tokens, 0), embedded.Estimated) { SessionId = document.SessionId, DocumentId = document.Id }, tx, cancellationToken: ct));
            await tx.CommitAsync(ct);
        }
        return true;
    }

    private async Task<FileView?> FindAsync(DocumentOwner owner, string sha256, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        return await conn.QuerySingleOrDefaultAsync<FileView>(new CommandDefinition(FindSql, new { Sha256 = sha256, owner.SessionId, owner.AssistantId }, cancellationToken: ct));
    }

    /// <summary>The chunks' vectors in batches, with the input tokens the provider reports (estimated where it reports none: local models).</summary>
    private async Task<Embedded> EmbedAsync(ModelSpec model, List<ChunkDraft> chunks, CancellationToken ct)
    {
        var embedder = providers.Embedder(model);
        var vectors = new List<Vector>(chunks.Count);
        long tokens = 0;
        var estimated = false;
        foreach (var batch in chunks.Chunk(EmbeddingBatch))
        {
            GeneratedEmbeddings<Embedding<float>> generated;
            using (ChatTelemetry.Embedding(embedder, batch.Length))
                generated = await embedder.GenerateAsync(batch.Select(c => c.Content), cancellationToken: ct);
            vectors.AddRange(generated.Select(e => new Vector(e.Vector)));
            if (generated.Usage?.InputTokenCount is { } reported) tokens += reported;
            else
            {
                tokens += batch.Sum(c => (long)model.Tokens().Count(c.Content));
                estimated = true;
            }
        }
        return new Embedded(vectors, tokens, estimated);
    }

    private static Task InsertChunksAsync(NpgsqlConnection conn, NpgsqlTransaction tx, Guid documentId, DocumentOwner owner, ModelSpec model,
        List<ChunkDraft> chunks, List<Vector> embeddings, JsonElement? metadata, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(InsertChunksSql, new
        {
            DocumentId = documentId, owner.SessionId, owner.AssistantId, Model = model.Id,
            Ids = chunks.Select(_ => Guid.CreateVersion7()).ToArray(),
            Ordinals = chunks.Select(c => c.Ordinal).ToArray(),
            PagesFrom = chunks.Select(c => c.PageFrom).ToArray(),
            PagesTo = chunks.Select(c => c.PageTo).ToArray(),
            Contents = chunks.Select(c => c.Content).ToArray(),
            Embeddings = embeddings.ToArray(),
            Metadata = metadata?.GetRawText() ?? "{}",
        }, tx, cancellationToken: ct));
}
