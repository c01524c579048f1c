using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Mediation;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Sessions;

/// <summary>PUT /v1/chat/sessions/{id} {title}.</summary>
public static class RenameSession
{
    public sealed record Request(string? Title);

    public sealed record Command(Guid SessionId, string UserId, string? Title) : IRequest<SessionView?>, IValidated
    {
        public void Validate(ValidationErrors errors)
        {
            errors.Require(!string.IsNullOrWhiteSpace(Title), "title", "Required.");
            errors.Length(Title?.Trim(), "title", 1, 200);
        }
    }

    private const string Sql = $"""
        UPDATE chat_sessions s SET title = @Title, title_by_user = true, updated_at = now()
        WHERE s.id = @SessionId AND s.user_id = @UserId
        RETURNING {SessionViews.SessionColumns}
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Command, SessionView?>
    {
        public async Task<SessionView?> Handle(Command command, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            return await conn.QuerySingleOrDefaultAsync<SessionView>(new CommandDefinition(Sql,
                new { command.SessionId, command.UserId, Title = command.Title!.Trim() }, cancellationToken: ct));
        }
    }

    public static async Task<Results<Ok<SessionView>, NotFound>> Endpoint(Guid id, Request body, ClaimsPrincipal user, IMediator mediator, CancellationToken ct) =>
        await mediator.Send(new Command(id, user.RequiredUserId(), body.Title), ct) is { } session ? TypedResults.Ok(session) : TypedResults.NotFound();
}
