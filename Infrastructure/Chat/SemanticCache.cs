using System.Security.Cryptography;
using System.Text;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Assistants;
using ChatSlices.Infrastructure.Database;
using Dapper;
using Npgsql;

namespace ChatSlices.Infrastructure.Chat;

/// <summary>
/// Per-assistant answers reused for the same question, or a close one, asked in the same scope: the same assistant,
/// model, effective instructions, knowledge version, context mode and (for follow-ups) recent history. Exact match on the normalised
/// question first, then the nearest cached question by embedding above the assistant's threshold, guarded against
/// questions that read alike but mean otherwise. Entries live <c>ttl_seconds</c>.
/// </summary>
public sealed class SemanticCache(NpgsqlDataSource db, ModelProviders providers)
{
    public sealed record Key(Guid AssistantId, string ScopeHash, string Question, string QuestionHash, ModelSpec EmbeddingModel, double Threshold, int TtlSeconds);

    public sealed record Hit(string Answer, string Sources, double Similarity);

    private sealed record Candidate(string Question, string Answer, string Sources, double Similarity, bool Exact);

    public static Key For(AssistantProfile assistant, ModelSpec chatModel, string? systemPrompt, IEnumerable<(string Role, string Content)> history,
        string question, ModelSpec embeddingModel, string contextMode)
    {
        var recent = string.Join("\n", history.TakeLast(4).Select(t => t.Role + ":" + t.Content));
        var scope = Hash($"{assistant.Id}\n{chatModel.Id}\n{Hash(systemPrompt ?? "")}\n{assistant.KnowledgeVersion}\n{Hash(recent)}\n{embeddingModel.Id}\n{contextMode}");
        return new Key(assistant.Id, scope, question, Hash(Normalize(question)), embeddingModel, assistant.Settings.CacheThreshold, assistant.Settings.CacheTtlSeconds);
    }

    /// <summary>The cached answer if there is one; the question's embedding either way (for storing the answer later).</summary>
    public async Task<(Hit? Hit, string Embedding)> LookupAsync(Key key, Guid sessionId, CancellationToken ct)
    {
        var embedding = VectorText.Format((await providers.Embedder(key.EmbeddingModel).GenerateAsync([key.Question], cancellationToken: ct))[0].Vector.Span);
        var dimensions = key.EmbeddingModel.Dimensions!.Value;
        // Sessions with documents of their own are never answered from the assistant-wide cache.
        var sql = $"""
            SELECT question, answer, sources::text AS sources, 1.0::float8 AS similarity, true AS exact FROM semantic_cache
            WHERE assistant_id = @AssistantId AND scope_hash = @ScopeHash AND question_hash = @QuestionHash AND expires_at > now()
              AND NOT EXISTS (SELECT 1 FROM documents WHERE session_id = @SessionId)
            UNION ALL
            SELECT * FROM (
                SELECT question, answer, sources::text, (1 - (embedding::vector({dimensions}) <=> @Embedding::vector({dimensions})))::float8, false
                FROM semantic_cache
                WHERE assistant_id = @AssistantId AND scope_hash = @ScopeHash AND embedding_model = @Model AND expires_at > now()
                  AND NOT EXISTS (SELECT 1 FROM documents WHERE session_id = @SessionId)
                ORDER BY embedding::vector({dimensions}) <=> @Embedding::vector({dimensions})
                LIMIT 5
            ) nearest
            """;
        await using var conn = await db.OpenConnectionAsync(ct);
        var candidates = (await conn.QueryAsync<Candidate>(new CommandDefinition(sql,
            new { key.AssistantId, key.ScopeHash, key.QuestionHash, SessionId = sessionId, Model = key.EmbeddingModel.Id, Embedding = embedding },
            cancellationToken: ct))).AsList();
        var hit = candidates.FirstOrDefault(c => c.Exact)
                  ?? candidates.Where(c => c.Similarity >= key.Threshold && CacheGuard.SameMeaning(key.Question, c.Question))
                      .MaxBy(c => c.Similarity);
        return (hit is null ? null : new Hit(hit.Answer, hit.Sources, Math.Round(hit.Similarity, 4)), embedding);
    }

    /// <summary>Stores a complete answer; concurrent identical misses store one entry.</summary>
    public async Task StoreAsync(Key key, string embedding, Guid sessionId, string answer, string sources, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await conn.ExecuteAsync(new CommandDefinition("""
            INSERT INTO semantic_cache (id, assistant_id, scope_hash, question, question_hash, embedding_model, embedding, answer, sources, expires_at)
            SELECT @Id, @AssistantId, @ScopeHash, @Question, @QuestionHash, @Model, @Embedding::vector, @Answer, @Sources::jsonb,
                   now() + make_interval(secs => @TtlSeconds)
            WHERE NOT EXISTS (SELECT 1 FROM documents WHERE session_id = @SessionId)
            ON CONFLICT (assistant_id, scope_hash, question_hash) DO NOTHING
            """, new
        {
            Id = Guid.CreateVersion7(), key.AssistantId, key.ScopeHash, key.Question, key.QuestionHash, Model = key.EmbeddingModel.Id,
            Embedding = embedding, Answer = answer, Sources = sources, key.TtlSeconds, SessionId = sessionId,
        }, cancellationToken: ct));
    }

    /// <summary>Deletes expired entries; returns how many.</summary>
    public async Task<int> PurgeExpiredAsync(CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        return await conn.ExecuteAsync(new CommandDefinition("DELETE FROM semantic_cache WHERE expires_at <= now()", cancellationToken: ct));
    }

    private static string Normalize(string question) =>
        question.ToLowerInvariant().CollapseWhitespace().TrimEnd('?', '!', '.', ' ');

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}

/// <summary>Purges expired cache entries every few minutes (lookups ignore them meanwhile).</summary>
public sealed class SemanticCachePurger(SemanticCache cache, ILogger<SemanticCachePurger> logger) : BackgroundService
{
    private static readonly TimeSpan Every = TimeSpan.FromMinutes(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Every);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var purged = await cache.PurgeExpiredAsync(stoppingToken);
                if (purged > 0) logger.LogInformation("Purged {Count} expired semantic cache entries", purged);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                logger.LogWarning(e, "Purging the semantic cache failed; trying again later");
            }
        }
    }
}
