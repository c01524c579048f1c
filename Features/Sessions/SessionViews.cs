using System.Text.Json;
using System.Text.Json.Serialization;
using Dapper;
using Npgsql;

namespace ChatSlices.Features.Sessions;

/// <summary>
/// A stored message as API.md shows it. <see cref="SiblingIds"/> (the messages with its parent, itself included, oldest
/// first) where the route reads a branch; <see cref="ToolCalls"/> the calls a reply made or the answers a tool turn sent,
/// <see cref="EndUser"/> the <c>user</c> a turn was sent for.
/// </summary>
public sealed record MessageView(
    Guid Id, Guid SessionId, Guid? ParentId, string Role, string Content, string? Model, string Status,
    int? PromptTokens, int? CompletionTokens, decimal? Cost, JsonElement Sources, DateTime CreatedAt, JsonElement? ToolCalls, string? EndUser,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] JsonElement? SiblingIds)
{
    /// <summary>How many answers (or versions of a turn) there are at this place of the tree.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? SiblingCount => SiblingIds?.GetArrayLength();

    /// <summary>This one's place among them, from 1 (shown as 2/3).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? SiblingPosition => SiblingIds is { } ids ? ids.EnumerateArray().TakeWhile(s => s.GetGuid() != Id).Count() + 1 : null;
}

/// <summary>
/// A session as API.md shows it; <see cref="Messages"/> (its last messages, oldest first) and
/// <see cref="MessagesTruncated"/> only where the route includes them.
/// </summary>
/// <remarks><see cref="SystemPrompt"/>, <see cref="Temperature"/> and <see cref="MaxTokens"/>: the session's own settings (null: unset).</remarks>
public sealed record SessionView(
    Guid Id, string? UserId, string? ApplicationId, Guid? AssistantId, string Model, string? Title, bool Archived,
    long MessageCount, Guid? ActiveLeafId, string? SystemPrompt, double? Temperature, int? MaxTokens, DateTime CreatedAt, DateTime UpdatedAt)
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<MessageView>? Messages { get; init; }

    /// <summary>Older messages than <see cref="Messages"/> exist: <c>GET /v1/chat/sessions/{id}/messages</c> pages through all of them.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? MessagesTruncated { get; init; }

    /// <summary>The session with its last <paramref name="cap"/> messages, from the last <c>cap + 1</c> read oldest first.</summary>
    public SessionView WithLastMessages(IReadOnlyList<MessageView> lastAndOneMore, int cap) => lastAndOneMore.Count > cap
        ? this with { Messages = lastAndOneMore.Skip(lastAndOneMore.Count - cap).ToList(), MessagesTruncated = true }
        : this with { Messages = lastAndOneMore, MessagesTruncated = false };
}

/// <summary>Reads sessions and messages for the slices that show them (Sessions, ListHistory, SendMessage). Ownership is part of every query.</summary>
public static class SessionViews
{
    public const string SessionColumns = """
        s.id, s.user_id, s.application_id, s.assistant_id, s.model, s.title, s.archived_at IS NOT NULL AS archived,
        (SELECT count(*) FROM chat_messages c WHERE c.session_id = s.id) AS message_count,
        s.active_leaf_id, s.system_prompt, s.temperature, s.max_tokens, s.created_at, s.updated_at
        """;

    private const string MessageFields = """
        m.id, m.session_id, m.parent_id, m.role, m.content, m.model, m.status, m.prompt_tokens, m.completion_tokens, m.cost, m.sources, m.created_at,
        m.tool_calls, m.end_user
        """;

    /// <summary>A message of <c>m</c> as <see cref="MessageView"/>, without its siblings.</summary>
    public const string MessageColumns = MessageFields + ", NULL::jsonb AS sibling_ids";

    /// <summary>A message of <c>m</c> as <see cref="MessageView"/>, with its siblings (a session's first messages are siblings).</summary>
    public const string BranchMessageColumns = MessageFields + """
        , to_jsonb(CASE WHEN m.parent_id IS NULL
              THEN ARRAY(SELECT x.id FROM chat_messages x WHERE x.session_id = m.session_id AND x.parent_id IS NULL ORDER BY x.created_at, x.id)
              ELSE ARRAY(SELECT x.id FROM chat_messages x WHERE x.parent_id = m.parent_id ORDER BY x.created_at, x.id)
          END) AS sibling_ids
        """;

    /// <summary>
    /// <c>branch (id, depth)</c>: the active branch of session <c>s</c> (joined by the statement that uses it), from its
    /// leaf (depth 1) up, at most <c>@Depth</c> messages. Each step is one lookup by primary key.
    /// </summary>
    public const string ActiveBranchCte = """
        branch AS (
            SELECT s.active_leaf_id AS id, 1 AS depth FROM session s WHERE s.active_leaf_id IS NOT NULL
            UNION ALL
            SELECT p.parent_id, b.depth + 1 FROM branch b JOIN chat_messages p ON p.id = b.id
            WHERE p.parent_id IS NOT NULL AND b.depth < @Depth
        )
        """;

    /// <summary>What one session's read shows at most: its last messages (the rest is paged by ListMessages).</summary>
    public const int SessionMessageCap = 50;

    /// <summary>
    /// The last <c>@Depth</c> messages of the active branch of session <c>s</c> as one JSON array of
    /// <see cref="MessageView"/>, oldest first (one more than shown tells whether older ones were left out): many
    /// sessions' messages in one statement (history). Times are written in UTC with a <c>Z</c>, as they are read.
    /// </summary>
    public const string LastMessagesJson = $"""
        (WITH RECURSIVE session AS (SELECT s.active_leaf_id), {ActiveBranchCte}
         SELECT coalesce(jsonb_agg(jsonb_build_object(
            'id', m.id, 'session_id', m.session_id, 'parent_id', m.parent_id, 'role', m.role, 'content', m.content, 'model', m.model,
            'status', m.status, 'prompt_tokens', m.prompt_tokens, 'completion_tokens', m.completion_tokens,
            'cost', m.cost, 'sources', m.sources, 'created_at', to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
            'tool_calls', m.tool_calls, 'end_user', m.end_user)
            ORDER BY b.depth DESC), '[]'::jsonb)::text
         FROM branch b JOIN chat_messages m ON m.id = b.id)
        """;

    /// <summary>Sessions the caller may see: their own, and with <c>@GuestSessions</c> a guest session by its id.</summary>
    public const string Visible = "(s.user_id = @UserId OR (@GuestSessions AND s.user_id IS NULL))";

    private const string LoadSql = $"""
        SELECT {SessionColumns} FROM chat_sessions s WHERE s.id = @SessionId AND {Visible};
        WITH RECURSIVE session AS (SELECT s.active_leaf_id FROM chat_sessions s WHERE s.id = @SessionId AND @WithMessages AND {Visible}),
        {ActiveBranchCte}
        SELECT {BranchMessageColumns} FROM branch b JOIN chat_messages m ON m.id = b.id
        ORDER BY b.depth DESC;
        """;

    /// <summary>
    /// The session (with its last <see cref="SessionMessageCap"/> messages when asked), in one round trip; null when it
    /// is not visible to the caller.
    /// </summary>
    public static async Task<SessionView?> LoadAsync(NpgsqlConnection conn, Guid sessionId, string? userId, bool guestSessions, bool withMessages, CancellationToken ct)
    {
        await using var results = await conn.QueryMultipleAsync(new CommandDefinition(LoadSql, new
        {
            SessionId = sessionId, UserId = userId, GuestSessions = guestSessions, WithMessages = withMessages, Depth = SessionMessageCap + 1,
        }, cancellationToken: ct));
        var session = await results.ReadSingleOrDefaultAsync<SessionView>();
        var messages = (await results.ReadAsync<MessageView>()).AsList();
        return session is null ? null : withMessages ? session.WithLastMessages(messages, SessionMessageCap) : session;
    }
}
