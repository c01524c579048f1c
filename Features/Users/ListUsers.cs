using Carter;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Mediation;
using Dapper;
using MediatR;
using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace ChatSlices.Features.Users;

/// <summary>GET /v1/admin/users?skip&amp;limit: the users the service has seen, newest first (admin only).</summary>
public sealed class ListUsers : ICarterModule
{
    public sealed record Query(SkipLimit Page) : IRequest<Response>, IValidated
    {
        public void Validate(ValidationErrors errors) => Page.Validate(errors);
    }

    public sealed record User(string Id, string? Name, string? Email, string Tier, DateTime CreatedAt, DateTime LastSeenAt);

    public sealed record Response(long Total, IReadOnlyList<User> Items);

    private const string Sql = """
        SELECT count(*) FROM users;
        SELECT id, name, email, tier, created_at, last_seen_at FROM users
        ORDER BY created_at DESC, id
        OFFSET @Skip LIMIT @Limit;
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            await using var results = await conn.QueryMultipleAsync(new CommandDefinition(Sql, new { query.Page.Skip, query.Page.Limit }, cancellationToken: ct));
            var total = await results.ReadSingleAsync<long>();
            var items = (await results.ReadAsync<User>()).AsList();
            return new Response(total, items);
        }
    }

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapGroup("/v1/admin/users").WithTags("Admin").RequireAuthorization(AuthSetup.AdminPolicy)
            .MapGet("", Endpoint)
            .WithName("ListUsers")
            .WithSummary("Users seen by the service, newest first")
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status403Forbidden);

    private static async Task<Ok<Response>> Endpoint(IMediator mediator, CancellationToken ct, [FromQuery] string? skip = null, [FromQuery] string? limit = null) =>
        TypedResults.Ok(await mediator.Send(new Query(new SkipLimit(skip, limit, DefaultLimit: 100, MaxLimit: 1000)), ct));
}
