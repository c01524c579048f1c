using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Sessions;

/// <summary>POST /v1/chat/sessions/{id}/reset: every message goes, the session (title, model, files) stays.</summary>
public static class ResetSession
{
    public sealed record Command(Guid SessionId, string UserId) : IRequest<bool>;

    private const string Sql = """
        WITH s AS (
            UPDATE chat_sessions SET updated_at = now(), active_leaf_id = NULL WHERE id = @SessionId AND user_id = @UserId RETURNING id
        ), removed AS (
            DELETE FROM chat_messages WHERE session_id IN (SELECT id FROM s)
        )
        SELECT count(*) FROM s
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Command, bool>
    {
        public async Task<bool> Handle(Command command, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            return await conn.ExecuteScalarAsync<long>(new CommandDefinition(Sql, command, cancellationToken: ct)) == 1;
        }
    }

    public static async Task<Results<Ok<StatusMessage>, NotFound>> Endpoint(Guid id, ClaimsPrincipal user, IMediator mediator, CancellationToken ct) =>
        await mediator.Send(new Command(id, user.RequiredUserId()), ct)
            ? TypedResults.Ok(new StatusMessage("Session reset successfully"))
            : TypedResults.NotFound();
}
