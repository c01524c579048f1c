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
    public sealed record Query(bool Guest, string? RawSkip, string? RawLimit) : IRequest<Response>, IValidated
    {
        public int Skip => QueryText.Integer(RawSkip) ?? 0;
        public int Limit => QueryText.Integer(RawLimit) ?? 100;

        public void Validate(ValidationErrors errors)
        {
            errors.WholeNumber(RawSkip, "skip");
            errors.WholeNumber(RawLimit, "limit");
            errors.Require(Skip >= 0, "skip", "Must be 0 or more.");
            errors.Range<int>(Limit, "limit", 1, 1000);
        }
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
            await using var results = await conn.QueryMultipleAsync(new CommandDefinition(Sql, new { query.Guest, query.Skip, query.Limit }, cancellationToken: ct));
            return new Response(await results.ReadSingleAsync<long>(), (await results.ReadAsync<AssistantView>()).AsList());
        }
    }

    public static async Task<Ok<Response>> Endpoint(ClaimsPrincipal user, IMediator mediator, CancellationToken ct,
        [FromQuery] string? skip = null, [FromQuery] string? limit = null) =>
        TypedResults.Ok(await mediator.Send(new Query(user.UserId() is null, skip, limit), ct));
}
