using ChatSlices.Infrastructure;
using System.Security.Cryptography;
using System.Text;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Assistants;
using ChatSlices.Infrastructure.Telemetry;
using System.Text.Json;
using Dapper;
using Microsoft.SemanticKernel.Connectors.OpenAI;
using Npgsql;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// Per-assistant answers reused for the same question, or a close one, asked in the same scope: the same assistant,
/// model, effective instructions, knowledge version, context mode and (for follow-ups) recent history. Exact match on the normalised
/// question first, then the nearest cached question by embedding above the assistant's threshold, guarded against
/// questions that read alike but mean otherwise. Entries live <c>ttl_seconds</c>.
/// </summary>
public sealed class SemanticCache(NpgsqlDataSource db, ChatMetrics metrics, ILogger<SemanticCache> logger)
{
    public sealed record Key(Guid AssistantId, string ScopeHash, string Question, string QuestionHash, ModelSpec EmbeddingModel, double Threshold, int TtlSeconds);

    public sealed record Hit(string Answer, string Sources, double Similarity);

    private sealed record Candidate(string Question, string Answer, string Sources, double Similarity);

    private static readonly TimeSpan StoreTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The scope an answer is shared in: what the model saw (instructions, knowledge version, every earlier turn, the
    /// sampling settings) and, for an assistant whose <c>cache_scope</c> is <c>user</c>, who asked.
    /// </summary>
    public static Key For(AssistantProfile assistant, ModelSpec chatModel, TurnPrompt prompt, OpenAIPromptExecutionSettings sampling,
        string asker, ModelSpec embeddingModel, string contextMode)
    {
        var history = Hash(string.Join("\n", prompt.History.Select(t => t.Role + ":" + t.Content)));
        var sampled = FormattableString.Invariant($"{sampling.Temperature}|{sampling.MaxTokens}|{sampling.TopP}|{sampling.Seed}|{sampling.PresencePenalty}|{sampling.FrequencyPenalty}|") +
                      string.Join('\u001f', sampling.StopSequences ?? []) + "|" +
                      string.Join(',', (sampling.TokenSelectionBiases ?? new Dictionary<int, int>()).OrderBy(b => b.Key).Select(b => $"{b.Key}:{b.Value}")) + "|" +
                      (sampling.ResponseFormat is JsonElement format ? format.GetRawText() : sampling.ResponseFormat);
        var owner = assistant.Settings.CacheScope == CacheSettings.UserScope ? asker : "";
        var scope = Hash($"{assistant.Id}\n{chatModel.Id}\n{Hash(prompt.SystemPrompt ?? "")}\n{assistant.KnowledgeVersion}\n{history}\n" +
                         $"{embeddingModel.Id}\n{contextMode}\n{sampled}\n{owner}");
        return new Key(assistant.Id, scope, prompt.UserText, Hash(Normalize(prompt.UserText)), embeddingModel,
            assistant.Settings.CacheThreshold, assistant.Settings.CacheTtlSeconds);
    }

    // Sessions with documents of their own are never answered from the assistant-wide cache.
    private const string ExactSql = """
        SELECT question, answer, sources::text AS sources, 1.0::float8 AS similarity FROM semantic_cache
        WHERE assistant_id = @AssistantId AND scope_hash = @ScopeHash AND question_hash = @QuestionHash AND expires_at > now()
          AND NOT EXISTS (SELECT 1 FROM documents WHERE session_id = @SessionId)
        """;

    private static string NearestSql(int dimensions) => $"""
        SELECT question, answer, sources::text AS sources, (1 - (embedding::vector({dimensions}) <=> @Embedding))::float8 AS similarity
        FROM semantic_cache
        WHERE assistant_id = @AssistantId AND scope_hash = @ScopeHash AND embedding_model = @Model AND expires_at > now()
          AND NOT EXISTS (SELECT 1 FROM documents WHERE session_id = @SessionId)
        ORDER BY embedding::vector({dimensions}) <=> @Embedding
        LIMIT 5
        """;

    /// <summary>
    /// The cached answer, if there is one. The same question asked again is found by its hash alone: the question is
    /// embedded (for the nearest cached ones) only when that finds nothing.
    /// </summary>
    public async Task<Hit?> LookupAsync(Key key, QuestionEmbedding question, Guid sessionId, CancellationToken ct)
    {
        using var span = ChatTelemetry.Step("semantic_cache lookup");
        await using (var conn = await db.OpenConnectionAsync(ct))
        {
            var exact = await conn.QuerySingleOrDefaultAsync<Candidate>(new CommandDefinition(ExactSql,
                new { key.AssistantId, key.ScopeHash, key.QuestionHash, SessionId = sessionId }, cancellationToken: ct));
            if (exact is not null)
            {
                metrics.CacheLookup(hit: true);
                span?.SetTag("chatslices.cache.result", "exact");
                return new Hit(exact.Answer, exact.Sources, exact.Similarity);
            }
        }

        // No connection is held while the question is embedded (an embedder may be a remote call).
        var embedding = await question.GetAsync(ct);
        await using var again = await db.OpenConnectionAsync(ct);
        var nearest = await again.QueryAsync<Candidate>(new CommandDefinition(NearestSql(key.EmbeddingModel.Dimensions!.Value),
            new { key.AssistantId, key.ScopeHash, SessionId = sessionId, Model = key.EmbeddingModel.Id, Embedding = embedding },
            cancellationToken: ct));
        var hit = nearest.Where(c => c.Similarity >= key.Threshold && CacheGuard.SameMeaning(key.Question, c.Question)).MaxBy(c => c.Similarity);
        metrics.CacheLookup(hit is not null);
        span?.SetTag("chatslices.cache.result", hit is null ? "miss" : "similar");
        return hit is null ? null : new Hit(hit.Answer, hit.Sources, Math.Round(hit.Similarity, 4));
    }

    /// <summary>
    /// Stores a complete answer; concurrent identical misses store one entry. Not tied to the request (the reply is
    /// already whole); a failure is logged, never the turn's.
    /// </summary>
    public async Task RememberAsync(Key key, QuestionEmbedding question, string answer, IReadOnlyList<Citation> citations)
    {
        try
        {
            using var timeout = new CancellationTokenSource(StoreTimeout);
            await StoreAsync(key, await question.GetAsync(timeout.Token), answer, JsonSerializer.Serialize(citations, StoreTurn.StoredJson), timeout.Token);
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException)
        {
            logger.LogWarning(e, "Storing the answer in the semantic cache failed");
        }
    }

    private async Task StoreAsync(Key key, Pgvector.Vector embedding, string answer, string sources, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await conn.ExecuteAsync(new CommandDefinition("""
            INSERT INTO semantic_cache (id, assistant_id, scope_hash, question, question_hash, embedding_model, embedding, answer, sources, expires_at)
            SELECT @Id, @AssistantId, @ScopeHash, @Question, @QuestionHash, @Model, @Embedding, @Answer, @Sources::jsonb,
                   now() + make_interval(secs => @TtlSeconds)
            ON CONFLICT (assistant_id, scope_hash, question_hash) DO NOTHING
            """, new
        {
            Id = Guid.CreateVersion7(), key.AssistantId, key.ScopeHash, key.Question, key.QuestionHash, Model = key.EmbeddingModel.Id,
            Embedding = embedding, Answer = answer, Sources = sources, key.TtlSeconds,
        }, cancellationToken: ct));
    }

    /// <summary>Deletes expired entries; returns how many.</summary>
    public async Task<int> PurgeExpiredAsync(CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        return await conn.ExecuteAsync(new CommandDefinition("DELETE FROM semantic_cache WHERE expires_at <= now()", cancellationToken: ct));
    }

    public static string Normalize(string question) =>
        question.ToLowerInvariant().CollapseWhitespace().TrimEnd('?', '!', '.', ' ');

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
