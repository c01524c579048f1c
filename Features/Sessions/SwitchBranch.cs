using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Mediation;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Sessions;

/// <summary>
/// POST /v1/chat/sessions/{id}/active {message_id}: the branch through that message becomes the active one, down to
/// its newest message (a message is always newer than its parent, so the newest of a subtree is one of its leaves).
/// Answers the session with its new active branch.
/// </summary>
public static class SwitchBranch
{
    public sealed record Request(Guid? MessageId);

    public sealed record Command(Guid SessionId, string UserId, Guid? MessageId) : IRequest<SessionView?>, IValidated
    {
        public void Validate(ValidationErrors errors) => errors.Require(MessageId is not null, "message_id", "Required.");
    }

    /// <summary>
    /// The newest message under <c>@Top</c> (itself included); with no <c>@Top</c>, the session's newest. Used where a
    /// branch is chosen by one of its messages.
    /// </summary>
    public const string NewestLeafSql = """
        coalesce(
            (WITH RECURSIVE below AS (
                SELECT id, created_at FROM chat_messages WHERE id = @Top
                UNION ALL
                SELECT c.id, c.created_at FROM below b JOIN chat_messages c ON c.parent_id = b.id
             ) SELECT id FROM below ORDER BY created_at DESC, id DESC LIMIT 1),
            (SELECT id FROM chat_messages WHERE session_id = @SessionId AND @Top::uuid IS NULL ORDER BY created_at DESC, id DESC LIMIT 1))
        """;

    private const string Sql = $"""
        UPDATE chat_sessions s SET active_leaf_id = {NewestLeafSql}
        WHERE s.id = @SessionId AND s.user_id = @UserId
          AND EXISTS (SELECT 1 FROM chat_messages m WHERE m.id = @Top AND m.session_id = @SessionId)
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Command, SessionView?>
    {
        public async Task<SessionView?> Handle(Command command, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            var switched = await conn.ExecuteAsync(new CommandDefinition(Sql,
                new { command.SessionId, command.UserId, Top = command.MessageId }, cancellationToken: ct));
            if (switched == 0) return null;
            return await SessionViews.LoadAsync(conn, command.SessionId, command.UserId, guestSessions: false, withMessages: true, ct);
        }
    }

    public static async Task<Results<Ok<SessionView>, NotFound>> Endpoint(Guid id, Request body, ClaimsPrincipal user, IMediator mediator, CancellationToken ct) =>
        await mediator.Send(new Command(id, user.RequiredUserId(), body.MessageId), ct) is { } session ? TypedResults.Ok(session) : TypedResults.NotFound();
}
