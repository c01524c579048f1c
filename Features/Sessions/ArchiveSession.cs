using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Sessions;

/// <summary>POST /v1/chat/sessions/{id}/archive and /unarchive. Archiving again keeps the first archive time.</summary>
public static class ArchiveSession
{
    public sealed record Command(Guid SessionId, string UserId, bool Archived) : IRequest<SessionView?>;

    private const string Sql = $"""
        UPDATE chat_sessions s
        SET archived_at = CASE WHEN @Archived THEN coalesce(s.archived_at, now()) END, updated_at = now()
        WHERE s.id = @SessionId AND s.user_id = @UserId
        RETURNING {SessionViews.SessionColumns}
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Command, SessionView?>
    {
        public async Task<SessionView?> Handle(Command command, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            return await conn.QuerySingleOrDefaultAsync<SessionView>(new CommandDefinition(Sql, command, cancellationToken: ct));
        }
    }

    public static Task<Results<Ok<SessionView>, NotFound>> Archive(Guid id, ClaimsPrincipal user, IMediator mediator, CancellationToken ct) =>
        SendAsync(new Command(id, user.RequiredUserId(), Archived: true), mediator, ct);

    public static Task<Results<Ok<SessionView>, NotFound>> Unarchive(Guid id, ClaimsPrincipal user, IMediator mediator, CancellationToken ct) =>
        SendAsync(new Command(id, user.RequiredUserId(), Archived: false), mediator, ct);

    private static async Task<Results<Ok<SessionView>, NotFound>> SendAsync(Command command, IMediator mediator, CancellationToken ct) =>
        await mediator.Send(command, ct) is { } session ? TypedResults.Ok(session) : TypedResults.NotFound();
}
