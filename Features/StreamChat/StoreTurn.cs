using System.Text.Json;
using ChatSlices.Infrastructure.RateLimiting;
using Dapper;
using Npgsql;

namespace ChatSlices.Features.StreamChat;

/// <summary>The reply as it is stored: its text, how it ended, what it cost and what it cited.</summary>
/// <param name="ToolCalls">The tool calls the reply made, if any.</param>
public sealed record StoredReply(string Content, string Status, string? Error, string? FinishReason, TokenCount Tokens, decimal Cost,
    IReadOnlyList<Citation> Sources, IReadOnlyList<ToolCall>? ToolCalls = null);

/// <summary>
/// Step 2 of a chat turn: its start (quota reservation, the session when it is new, the user's turn) and, however the
/// stream ends, the reply (with its row in the usage ledger).
/// Both writes must land even when the client has gone: they are not tied to the request, only bounded by a timeout.
/// </summary>
public sealed class StoreTurn(NpgsqlDataSource db, TokenQuota quota, InstanceLease instance, ILogger<StoreTurn> logger)
{
    private static readonly TimeSpan StoreTimeout = TimeSpan.FromSeconds(10);

    public static readonly ChatFailed StorageFailed = new("storage_failed", "The conversation could not be saved; retry later.")
    {
        HttpStatus = StatusCodes.Status503ServiceUnavailable,
    };

    internal static readonly JsonSerializerOptions StoredJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    // The reply, and its row in the usage ledger at the reply's own time (billing history that outlives the session).
    // The turn's row in live_replies is taken first: whoever deletes it (this, ReleaseSql, or InstanceLease's sweep of a
    // lost instance) stores the reply and settles the reservation, exactly once.
    private static string InsertReplySql(bool metered) => $"""
        WITH mine AS (DELETE FROM live_replies WHERE message_id = @MessageId RETURNING 1),
        reply AS (
            INSERT INTO chat_messages (id, session_id, parent_id, user_id, role, content, model, status, error, finish_reason,
                                       prompt_tokens, completion_tokens, cost, usage_estimated, sources, tool_calls)
            SELECT @MessageId, @SessionId, {ReplyParent}, (SELECT user_id FROM chat_sessions WHERE id = @SessionId), 'assistant', @Content, @Model, @Status, @Error,
                   @FinishReason, @PromptTokens, @CompletionTokens, @Cost, @Estimated, @Sources::jsonb, @ToolCalls::jsonb
            WHERE EXISTS (SELECT 1 FROM mine)
            RETURNING created_at
        ),
        ledger AS (
            INSERT INTO usage_ledger (user_id, kind, model, prompt_tokens, completion_tokens, cost, estimated, session_id, message_id, created_at)
            SELECT @UserId, 'chat', @Model, @PromptTokens, @CompletionTokens, @Cost, @Estimated, @SessionId, @MessageId, created_at FROM reply
        ),
        touched AS (UPDATE chat_sessions SET updated_at = now(), {ReplyActivated} WHERE id = @SessionId AND EXISTS (SELECT 1 FROM reply))
        {(metered ? ", settled AS (" + TokenQuota.SettleInTransactionSql + " AND EXISTS (SELECT 1 FROM reply))" : "")}
        SELECT EXISTS (SELECT 1 FROM reply)
        """;

    /// <summary>
    /// A reply hangs under its user turn (<c>@UserMessageId</c>), or at the top when that turn was deleted meanwhile
    /// (a reset), and becomes the active leaf when its user turn still is.
    /// </summary>
    internal const string ReplyParent = "(SELECT id FROM chat_messages WHERE id = @UserMessageId)";
    internal const string ReplyActivated = "active_leaf_id = CASE WHEN active_leaf_id = @UserMessageId THEN @MessageId ELSE active_leaf_id END";

    private static readonly string[] InsertReplyStatements = [InsertReplySql(false), InsertReplySql(true)];

    /// <summary>A turn that ends without its reply stored: its live row goes, and its reservation is settled, once.</summary>
    private static readonly string ReleaseSql = $"""
        WITH mine AS (DELETE FROM live_replies WHERE message_id = @MessageId RETURNING 1)
        {TokenQuota.SettleInTransactionSql} AND EXISTS (SELECT 1 FROM mine)
        """;

    /// <summary>
    /// The turn's start in one round trip and one transaction: the quota reservation (when the caller's tier has a
    /// daily limit), the session if it is new, the user's turn, the use of the stored prompt it was built from and the
    /// reply's row in <c>live_replies</c> (by this instance, until the reply is stored: <see cref="InstanceLease"/>) —
    /// all of it, or nothing when the reservation does not fit (then <c>started</c> is false).
    /// </summary>
    private static string StartSql(bool metered, bool newSession)
    {
        var session = newSession
            ? """
              new_session AS (
                  INSERT INTO chat_sessions (id, user_id, application_id, assistant_id, model, title, active_leaf_id)
                  SELECT @SessionId, @UserId, @ApplicationId, @AssistantId, @Model, @Title, @UserMessageId FROM allowed WHERE ok
              )
              """
            // The user turn becomes the active leaf (its reply, once stored). updated_at is touched once a turn, when the
            // reply is stored: it is indexed, so each touch rewrites the row's index entries; this update can be HOT.
            : """
              activated AS (
                  UPDATE chat_sessions SET active_leaf_id = @UserMessageId, title = coalesce(title, @Title)
                  WHERE id = @SessionId AND (SELECT ok FROM allowed)
              )
              """;
        // A message carries its session's owner (history search is scoped by it): a guest session has none.
        var owner = newSession ? "@UserId" : "(SELECT user_id FROM chat_sessions WHERE id = @SessionId)";
        return $"""
            {(metered ? TokenQuota.EnsureDaySql : "")}
            WITH {(metered ? TokenQuota.ReservedCte + "," : "")}
            allowed AS (SELECT {(metered ? "EXISTS (SELECT 1 FROM reserved)" : "true")} AS ok),
            {session},
            turn AS (
                INSERT INTO chat_messages (id, session_id, parent_id, user_id, role, content, model, tool_calls, end_user)
                SELECT @UserMessageId, @SessionId, @ParentId, {owner}, @Role, @Content, @Model, @ToolCalls::jsonb, @EndUser FROM allowed WHERE ok AND NOT @UserTurnStored
            ),
            counted AS (UPDATE prompts SET usage_count = usage_count + 1 WHERE id = @PromptId AND (SELECT ok FROM allowed)),
            live AS (
                INSERT INTO live_replies (message_id, session_id, parent_id, instance_id, model, quota_subject, quota_day, quota_tokens)
                SELECT @MessageId, @SessionId, @UserMessageId, @InstanceId, @Model, @Subject::text, @Day::date, @Tokens::bigint FROM allowed WHERE ok
            )
            SELECT ok AS started FROM allowed
            """;
    }

    private static readonly string[] StartStatements = [StartSql(false, false), StartSql(false, true), StartSql(true, false), StartSql(true, true)];

    /// <summary>
    /// Starts the turn (<see cref="StartSql"/>); the failure to tell the client when the quota refuses it (429) or the
    /// database cannot take it (503, logged). Nothing is stored or reserved then.
    /// </summary>
    public async Task<ChatFailed?> StartAsync(TurnPlan plan)
    {
        var reservation = plan.Reservation;
        try
        {
            var sql = StartStatements[(reservation is null ? 0 : 2) + (plan.Ids.NewSession ? 1 : 0)];
            var started = await ExecuteDetachedAsync<bool>(sql, new
            {
                plan.Ids.SessionId, plan.Owner.UserId, plan.Owner.ApplicationId, plan.Owner.AssistantId, Model = plan.Model.Id,
                plan.Prompt.Title, plan.Ids.UserMessageId, plan.Ids.ParentId, plan.Ids.UserTurnStored, plan.Prompt.Turn.Role, Content = plan.Prompt.UserText, plan.Prompt.PromptId,
                ToolCalls = plan.Prompt.Turn.ToolCalls?.GetRawText(), EndUser = plan.EndUser,
                reservation?.Subject, reservation?.Day, reservation?.Tokens, reservation?.Limit, plan.Ids.MessageId, InstanceId = instance.Id,
            });
            if (started) return null;
            plan.Settled = true; // nothing was reserved
            return ChatFailed.From(quota.Refused(reservation!));
        }
        catch (Exception e)
        {
            logger.LogError(e, "Storing the user turn failed");
            plan.Settled = true; // the reservation went with the rolled back transaction
            return StorageFailed;
        }
    }

    /// <summary>
    /// Stores the reply with its usage ledger row, touches the session and settles the quota reservation: one round trip,
    /// one transaction.
    /// False (logged) when the database cannot take it, so the stream can say so.
    /// </summary>
    public async Task<bool> ReplyAsync(TurnPlan plan, StoredReply reply)
    {
        plan.TokensUsed = reply.Tokens.Prompt + reply.Tokens.Completion;
        var reservation = plan.Reservation;
        try
        {
            var stored = await ExecuteDetachedAsync<bool>(InsertReplyStatements[reservation is null ? 0 : 1], new
            {
                plan.Ids.MessageId, plan.Ids.SessionId, plan.Ids.UserMessageId, plan.Owner.UserId, reply.Content, Model = plan.Model.Id, reply.Status, reply.Error, reply.FinishReason,
                PromptTokens = reply.Tokens.Prompt, CompletionTokens = reply.Tokens.Completion, reply.Cost, reply.Tokens.Estimated,
                Sources = JsonSerializer.Serialize(reply.Sources, StoredJson),
                ToolCalls = reply.ToolCalls is { Count: > 0 } calls ? JsonSerializer.Serialize(calls, StoredJson) : null,
                reservation?.Subject, reservation?.Day, Reserved = reservation?.Tokens, Used = plan.TokensUsed,
            });
            plan.Settled = true;
            if (stored) return true;
            // Another instance took this turn for lost (this one's lease lapsed): it stored the reply and settled.
            logger.LogWarning("Reply {MessageId} was stored as lost by another instance; this instance's reply is not stored", plan.Ids.MessageId);
            return false;
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException)
        {
            logger.LogError(e, "Storing the {Status} reply {MessageId} failed", reply.Status, plan.Ids.MessageId);
            return false;
        }
    }

    /// <summary>
    /// A turn whose reply could not be stored: its live row is removed and its reservation settled to what it used, in
    /// one statement (not when another instance took the turn already). Logged, never thrown.
    /// </summary>
    public async Task ReleaseAsync(TurnPlan plan)
    {
        var reservation = plan.Reservation;
        try
        {
            await ExecuteDetachedAsync<object>(reservation is null ? "DELETE FROM live_replies WHERE message_id = @MessageId" : ReleaseSql, new
            {
                plan.Ids.MessageId, reservation?.Subject, reservation?.Day, Reserved = reservation?.Tokens, Used = plan.TokensUsed,
            });
            plan.Settled = true;
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException)
        {
            logger.LogError(e, "Releasing turn {MessageId} failed; it is stored as lost when this instance stops", plan.Ids.MessageId);
        }
    }

    /// <returns>The first column of the first row the statements return, if any.</returns>
    private async Task<T?> ExecuteDetachedAsync<T>(string sql, object parameters)
    {
        using var timeout = new CancellationTokenSource(StoreTimeout);
        await using var conn = await db.OpenConnectionAsync(timeout.Token);
        return await conn.ExecuteScalarAsync<T>(new CommandDefinition(sql, parameters, cancellationToken: timeout.Token));
    }
}
