using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Assistants;

/// <summary>GET /v1/assistants/{id}: an assistant that requires authentication is 401 for guests.</summary>
public static class GetAssistant
{
    public sealed record Query(Guid Id) : IRequest<AssistantView?>;

    private const string Sql = $"SELECT {AssistantView.Columns} FROM assistants a WHERE a.id = @Id";

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, AssistantView?>
    {
        public async Task<AssistantView?> Handle(Query query, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            return await conn.QuerySingleOrDefaultAsync<AssistantView>(new CommandDefinition(Sql, query, cancellationToken: ct));
        }
    }

    public static async Task<Results<Ok<AssistantView>, NotFound, UnauthorizedHttpResult>> Endpoint(Guid id, ClaimsPrincipal user, IMediator mediator, CancellationToken ct)
    {
        if (await mediator.Send(new Query(id), ct) is not { } assistant) return TypedResults.NotFound();
        return assistant.RequiresAuth && user.UserId() is null ? TypedResults.Unauthorized() : TypedResults.Ok(assistant);
    }
}
