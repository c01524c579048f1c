using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Mediation;
using Dapper;
using MediatR;
using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace ChatSlices.Features.Assistants;

/// <summary>GET /v1/assistants?skip&amp;limit: paged in SQL; guests see only assistants that do not require authentication.</summary>
public static class ListAssistants
{
    public sealed record Query(bool Guest, SkipLimit Page) : IRequest<Response>, IValidated
    {
        public void Validate(ValidationErrors errors) => Page.Validate(errors);
    }

    public sealed record Response(long Total, IReadOnlyList<AssistantView> Items);

    private const string Sql = $"""
        SELECT count(*) FROM assistants a WHERE NOT (@Guest AND a.requires_auth);
        SELECT {AssistantView.Columns} FROM assistants a WHERE NOT (@Guest AND a.requires_auth)
        ORDER BY a.created_at, a.id OFFSET @Skip LIMIT @Limit;
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            await using var results = await conn.QueryMultipleAsync(new CommandDefinition(Sql, new { query.Guest, query.Page.Skip, query.Page.Limit }, cancellationToken: ct));
            return new Response(await results.ReadSingleAsync<long>(), (await results.ReadAsync<AssistantView>()).AsList());
        }
    }

    public static async Task<Ok<Response>> Endpoint(ClaimsPrincipal user, IMediator mediator, CancellationToken ct,
        [FromQuery] string? skip = null, [FromQuery] string? limit = null) =>
        TypedResults.Ok(await mediator.Send(new Query(user.UserId() is null, new SkipLimit(skip, limit, DefaultLimit: 100, MaxLimit: 1000)), ct));
}
