using System.Text.Json;
using System.Text.Json.Serialization;
using Dapper;
using Npgsql;

namespace ChatSlices.Infrastructure.Assistants;

/// <param name="Scope">
/// <c>assistant</c> (default): an answer is shared with every user of the assistant who asks the same in the same
/// scope; <c>user</c>: each user has their own entries (fewer hits, nothing of one user's conversation shown to another).
/// </param>
public sealed record CacheSettings(bool? Enabled = null, double? SimilarityThreshold = null, int? TtlSeconds = null, string? Scope = null)
{
    /// <summary>Chosen for local-embed (all-MiniLM-L6-v2) on the labelled pairs of BENCHMARKS.md: no wrong hit with the guard, two in three paraphrases.</summary>
    public const double DefaultThreshold = 0.85;
    public const int DefaultTtlSeconds = 86_400;
    public const string AssistantScope = "assistant", UserScope = "user";
}

/// <summary>An assistant's <c>settings</c>: defaults for its turns and its semantic cache.</summary>
public sealed record AssistantSettings(double? Temperature = null, int? MaxTokens = null, CacheSettings? Cache = null)
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    [JsonIgnore] public bool CacheEnabled => Cache?.Enabled ?? true;
    [JsonIgnore] public double CacheThreshold => Cache?.SimilarityThreshold ?? CacheSettings.DefaultThreshold;
    [JsonIgnore] public int CacheTtlSeconds => Cache?.TtlSeconds ?? CacheSettings.DefaultTtlSeconds;
    [JsonIgnore] public string CacheScope => Cache?.Scope ?? CacheSettings.AssistantScope;

    /// <summary>The settings as stored: every cache default written out, so clients see what applies.</summary>
    public AssistantSettings Normalized() => this with
    {
        Cache = new CacheSettings(CacheEnabled, CacheThreshold, CacheTtlSeconds, CacheScope),
    };

    public static AssistantSettings Parse(string? json) =>
        string.IsNullOrEmpty(json) ? new() : JsonSerializer.Deserialize<AssistantSettings>(json, Json) ?? new();
}

/// <summary>What the chat pipeline needs of an assistant.</summary>
public sealed record AssistantProfile(Guid Id, string? Instructions, string? Model, bool RequiresAuth, AssistantSettings Settings, int KnowledgeVersion)
{
    private sealed record Row(Guid Id, string? Instructions, string? Model, bool RequiresAuth, string Settings, int KnowledgeVersion);

    /// <summary>The columns <see cref="ReadAsync"/> reads, for a statement that picks the assistant.</summary>
    public const string Columns = "id, instructions, model, requires_auth, settings::text AS settings, knowledge_version";

    public static async Task<AssistantProfile?> LoadAsync(NpgsqlConnection conn, Guid id, CancellationToken ct) =>
        From(await conn.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
            $"SELECT {Columns} FROM assistants WHERE id = @id", new { id }, cancellationToken: ct)));

    /// <summary>The assistant of the next result set (its <see cref="Columns"/>), null when it is empty.</summary>
    public static async Task<AssistantProfile?> ReadAsync(SqlMapper.GridReader results) => From(await results.ReadSingleOrDefaultAsync<Row>());

    private static AssistantProfile? From(Row? row) =>
        row is null ? null : new AssistantProfile(row.Id, row.Instructions, row.Model, row.RequiresAuth, AssistantSettings.Parse(row.Settings), row.KnowledgeVersion);
}
