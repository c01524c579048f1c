using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Sessions;

/// <summary>
/// GET /v1/chat/sessions/{id}: the session with its last 50 messages (<c>messages_truncated</c> when there are older ones,
/// which ListMessages pages through). A guest session is readable by its id alone.
/// </summary>
public static class GetSession
{
    public sealed record Query(Guid SessionId, string? UserId) : IRequest<SessionView?>;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, SessionView?>
    {
        public async Task<SessionView?> Handle(Query query, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            return await SessionViews.LoadAsync(conn, query.SessionId, query.UserId, guestSessions: true, withMessages: true, ct);
        }
    }

    public static async Task<Results<Ok<SessionView>, NotFound>> Endpoint(Guid id, ClaimsPrincipal user, IMediator mediator, CancellationToken ct) =>
        await mediator.Send(new Query(id, user.UserId()), ct) is { } session ? TypedResults.Ok(session) : TypedResults.NotFound();
}
