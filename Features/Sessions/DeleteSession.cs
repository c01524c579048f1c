using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Sessions;

/// <summary>DELETE /v1/chat/sessions/{id}: one statement, so messages (and files, by cascade) go in the same transaction.</summary>
public static class DeleteSession
{
    public sealed record Command(Guid SessionId, string UserId) : IRequest<bool>;

    private const string Sql = "DELETE FROM chat_sessions WHERE id = @SessionId AND user_id = @UserId";

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Command, bool>
    {
        public async Task<bool> Handle(Command command, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            return await conn.ExecuteAsync(new CommandDefinition(Sql, command, cancellationToken: ct)) == 1;
        }
    }

    public static async Task<Results<Ok<StatusMessage>, NotFound>> Endpoint(Guid id, ClaimsPrincipal user, IMediator mediator, CancellationToken ct) =>
        await mediator.Send(new Command(id, user.RequiredUserId()), ct)
            ? TypedResults.Ok(new StatusMessage("Session deleted successfully"))
            : TypedResults.NotFound();
}
