using System.Text.Json;
using ChatSlices.Infrastructure.Prompts;
using ChatSlices.Infrastructure.RateLimiting;
using Dapper;
using Npgsql;

namespace ChatSlices.Features.StreamChat;

/// <summary>The reply as it is stored: its text, how it ended, what it cost and what it cited.</summary>
public sealed record StoredReply(string Content, string Status, string? Error, string? FinishReason, TokenCount Tokens, decimal Cost,
    IReadOnlyList<Citation> Sources);

/// <summary>
/// Step 2 of a chat turn: the user's turn (with the session when it is new) and, however the stream ends, the reply.
/// Both writes must land even when the client has gone: they are not tied to the request, only bounded by a timeout.
/// </summary>
public sealed class StoreTurn(NpgsqlDataSource db, ILogger<StoreTurn> logger)
{
    private static readonly TimeSpan StoreTimeout = TimeSpan.FromSeconds(10);

    public static readonly ChatFailed StorageFailed = new("storage_failed", "The conversation could not be saved; retry later.")
    {
        HttpStatus = StatusCodes.Status503ServiceUnavailable,
    };

    internal static readonly JsonSerializerOptions StoredJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    // The stored prompt a turn was built from counts a use here, with the turn: only a turn that passed every check.
    private const string InsertSessionAndTurnSql = $"""
        INSERT INTO chat_sessions (id, user_id, application_id, assistant_id, model, title)
        VALUES (@SessionId, @UserId, @ApplicationId, @AssistantId, @Model, @Title);
        INSERT INTO chat_messages (id, session_id, role, content, model)
        VALUES (@UserMessageId, @SessionId, 'user', @Content, @Model);
        {PromptUsage.CountSql};
        """;

    // updated_at is touched once a turn, when the reply is stored: each touch rewrites the row's index entries.
    private const string InsertTurnSql = $"""
        INSERT INTO chat_messages (id, session_id, role, content, model)
        VALUES (@UserMessageId, @SessionId, 'user', @Content, @Model);
        UPDATE chat_sessions SET title = @Title WHERE id = @SessionId AND title IS NULL;
        {PromptUsage.CountSql};
        """;

    private const string InsertReplySql = """
        INSERT INTO chat_messages (id, session_id, role, content, model, status, error, finish_reason,
                                   prompt_tokens, completion_tokens, cost, usage_estimated, sources)
        VALUES (@MessageId, @SessionId, 'assistant', @Content, @Model, @Status, @Error, @FinishReason,
                @PromptTokens, @CompletionTokens, @Cost, @Estimated, @Sources::jsonb);
        UPDATE chat_sessions SET updated_at = now() WHERE id = @SessionId;
        """;

    /// <summary>Stores the user's turn; the failure to tell the client (logged) when the database cannot take it.</summary>
    public async Task<ChatFailed?> UserTurnAsync(TurnPlan plan)
    {
        try
        {
            await ExecuteDetachedAsync(plan.Ids.NewSession ? InsertSessionAndTurnSql : InsertTurnSql, new
            {
                plan.Ids.SessionId, plan.Owner.UserId, plan.Owner.ApplicationId, plan.Owner.AssistantId, Model = plan.Model.Id,
                plan.Prompt.Title, plan.Ids.UserMessageId, Content = plan.Prompt.UserText, plan.Prompt.PromptId,
            });
            return null;
        }
        catch (Exception e)
        {
            logger.LogError(e, "Storing the user turn failed");
            return StorageFailed;
        }
    }

    /// <summary>
    /// Stores the reply, touches the session and settles the quota reservation: one round trip, one transaction.
    /// False (logged) when the database cannot take it, so the stream can say so.
    /// </summary>
    public async Task<bool> ReplyAsync(TurnPlan plan, StoredReply reply)
    {
        plan.TokensUsed = reply.Tokens.Prompt + reply.Tokens.Completion;
        var reservation = plan.Reservation;
        try
        {
            await ExecuteDetachedAsync(reservation is null ? InsertReplySql : InsertReplySql + TokenQuota.SettleInTransactionSql, new
            {
                plan.Ids.MessageId, plan.Ids.SessionId, reply.Content, Model = plan.Model.Id, reply.Status, reply.Error, reply.FinishReason,
                PromptTokens = reply.Tokens.Prompt, CompletionTokens = reply.Tokens.Completion, reply.Cost, reply.Tokens.Estimated,
                Sources = JsonSerializer.Serialize(reply.Sources, StoredJson),
                reservation?.Subject, reservation?.Day, Reserved = reservation?.Tokens, Used = plan.TokensUsed,
            });
            plan.Settled = reservation is not null;
            return true;
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException)
        {
            logger.LogError(e, "Storing the {Status} reply {MessageId} failed", reply.Status, plan.Ids.MessageId);
            return false;
        }
    }

    private async Task ExecuteDetachedAsync(string sql, object parameters)
    {
        using var timeout = new CancellationTokenSource(StoreTimeout);
        await using var conn = await db.OpenConnectionAsync(timeout.Token);
        await conn.ExecuteAsync(new CommandDefinition(sql, parameters, cancellationToken: timeout.Token));
    }
}
