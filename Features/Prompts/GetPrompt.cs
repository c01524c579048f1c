using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Prompts;

/// <summary>GET /v1/prompts/{id}: one of the caller's prompts or a template; anyone else's is simply not found.</summary>
public static class GetPrompt
{
    public sealed record Query(Guid Id, string UserId) : IRequest<PromptView?>;

    private const string Sql = $"SELECT {PromptView.Columns} FROM prompts p WHERE p.id = @Id AND {PromptView.Visible}";

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, PromptView?>
    {
        public async Task<PromptView?> Handle(Query query, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            return await conn.QuerySingleOrDefaultAsync<PromptView>(new CommandDefinition(Sql, query, cancellationToken: ct));
        }
    }

    public static async Task<Results<Ok<PromptView>, NotFound>> Endpoint(Guid id, ClaimsPrincipal user, IMediator mediator, CancellationToken ct) =>
        await mediator.Send(new Query(id, user.RequiredUserId()), ct) is { } prompt ? TypedResults.Ok(prompt) : TypedResults.NotFound();
}
