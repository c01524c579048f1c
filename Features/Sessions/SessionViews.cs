using System.Text.Json;
using System.Text.Json.Serialization;
using Dapper;
using Npgsql;

namespace ChatSlices.Features.Sessions;

/// <summary>A stored message as API.md shows it.</summary>
public sealed record MessageView(
    Guid Id, Guid SessionId, string Role, string Content, string? Model, string Status,
    int? PromptTokens, int? CompletionTokens, decimal? Cost, JsonElement Sources, DateTime CreatedAt);

/// <summary>
/// A session as API.md shows it; <see cref="Messages"/> (its last messages, oldest first) and
/// <see cref="MessagesTruncated"/> only where the route includes them.
/// </summary>
public sealed record SessionView(
    Guid Id, string? UserId, string? ApplicationId, Guid? AssistantId, string Model, string? Title, bool Archived,
    long MessageCount, DateTime CreatedAt, DateTime UpdatedAt)
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
        (SELECT count(*) FROM chat_messages c WHERE c.session_id = s.id) AS message_count, s.created_at, s.updated_at
        """;

    public const string MessageColumns = """
        m.id, m.session_id, m.role, m.content, m.model, m.status, m.prompt_tokens, m.completion_tokens, m.cost, m.sources, m.created_at
        """;

    /// <summary>What one session's read shows at most: its last messages (the rest is paged by ListMessages).</summary>
    public const int SessionMessageCap = 50;

    /// <summary>Columns of a message of <c>m</c>, for a subquery that picks the messages (not the search vector).</summary>
    private const string MessageRowColumns = "id, session_id, role, content, model, status, prompt_tokens, completion_tokens, cost, sources, created_at";

    /// <summary>
    /// The last <c>@MessageCap + 1</c> messages of session <c>s</c> as one JSON array of <see cref="MessageView"/>, oldest
    /// first (one more than shown tells whether older ones were left out): many sessions' messages in one statement
    /// (history). Times are written in UTC with a <c>Z</c>, as they are read.
    /// </summary>
    public const string LastMessagesJson = $"""
        (SELECT coalesce(jsonb_agg(jsonb_build_object(
            'id', m.id, 'session_id', m.session_id, 'role', m.role, 'content', m.content, 'model', m.model,
            'status', m.status, 'prompt_tokens', m.prompt_tokens, 'completion_tokens', m.completion_tokens,
            'cost', m.cost, 'sources', m.sources, 'created_at', to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
            ORDER BY m.created_at, m.id), '[]'::jsonb)::text
         FROM (SELECT {MessageRowColumns} FROM chat_messages WHERE session_id = s.id
               ORDER BY created_at DESC, id DESC LIMIT @MessageCap + 1) m)
        """;

    /// <summary>Sessions the caller may see: their own, and with <c>@GuestSessions</c> a guest session by its id.</summary>
    public const string Visible = "(s.user_id = @UserId OR (@GuestSessions AND s.user_id IS NULL))";

    private const string LoadSql = $"""
        SELECT {SessionColumns} FROM chat_sessions s WHERE s.id = @SessionId AND {Visible};
        SELECT m.* FROM (
            SELECT {MessageColumns} FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id
            WHERE m.session_id = @SessionId AND @WithMessages AND {Visible}
            ORDER BY m.created_at DESC, m.id DESC LIMIT @MessageCap + 1
        ) m
        ORDER BY m.created_at, m.id;
        """;

    /// <summary>
    /// The session (with its last <see cref="SessionMessageCap"/> messages when asked), in one round trip; null when it
    /// is not visible to the caller.
    /// </summary>
    public static async Task<SessionView?> LoadAsync(NpgsqlConnection conn, Guid sessionId, string? userId, bool guestSessions, bool withMessages, CancellationToken ct)
    {
        await using var results = await conn.QueryMultipleAsync(new CommandDefinition(LoadSql, new
        {
            SessionId = sessionId, UserId = userId, GuestSessions = guestSessions, WithMessages = withMessages, MessageCap = SessionMessageCap,
        }, cancellationToken: ct));
        var session = await results.ReadSingleOrDefaultAsync<SessionView>();
        var messages = (await results.ReadAsync<MessageView>()).AsList();
        return session is null ? null : withMessages ? session.WithLastMessages(messages, SessionMessageCap) : session;
    }
}
