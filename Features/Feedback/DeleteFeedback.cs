using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Feedback;

/// <summary>DELETE /v1/chat/messages/{id}/feedback: takes the caller's rating of the reply back.</summary>
public static class DeleteFeedback
{
    public sealed record Command(Guid MessageId, string UserId) : IRequest<bool>;

    private const string Sql = "DELETE FROM message_feedback WHERE message_id = @MessageId AND user_id = @UserId";

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Command, bool>
    {
        public async Task<bool> Handle(Command command, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            return await conn.ExecuteAsync(new CommandDefinition(Sql, command, cancellationToken: ct)) == 1;
        }
    }

    public static async Task<Results<NoContent, NotFound>> Endpoint(Guid id, ClaimsPrincipal user, IMediator mediator, CancellationToken ct) =>
        await mediator.Send(new Command(id, user.RequiredUserId()), ct) ? TypedResults.NoContent() : TypedResults.NotFound();
}
