using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Sessions;

/// <summary>
/// POST /v1/chat/sessions/{id}/claim: a guest session (no owner, readable by whoever has its id) becomes the caller's,
/// with its messages (history and its search then include it). Only a guest session can be claimed: another user's
/// session, or an unknown id, is 404.
/// </summary>
public static class ClaimSession
{
    public sealed record Command(Guid SessionId, string UserId) : IRequest<SessionView?>;

    private const string Sql = """
        WITH claimed AS (
            UPDATE chat_sessions SET user_id = @UserId, updated_at = now() WHERE id = @SessionId AND user_id IS NULL RETURNING id
        ), owned AS (
            UPDATE chat_messages SET user_id = @UserId WHERE session_id IN (SELECT id FROM claimed)
        )
        SELECT count(*) FROM claimed
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Command, SessionView?>
    {
        public async Task<SessionView?> Handle(Command command, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            if (await conn.ExecuteScalarAsync<long>(new CommandDefinition(Sql, command, cancellationToken: ct)) == 0) return null;
            return await SessionViews.LoadAsync(conn, command.SessionId, command.UserId, guestSessions: false, withMessages: true, ct);
        }
    }

    public static async Task<Results<Ok<SessionView>, NotFound>> Endpoint(Guid id, ClaimsPrincipal user, IMediator mediator, CancellationToken ct) =>
        await mediator.Send(new Command(id, user.RequiredUserId()), ct) is { } session ? TypedResults.Ok(session) : TypedResults.NotFound();
}
