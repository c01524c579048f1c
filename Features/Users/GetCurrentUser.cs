using System.Security.Claims;
using Carter;
using ChatSlices.Infrastructure.Auth;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Users;

/// <summary>GET /v1/users/me: who the service takes the caller to be (the row is created on first sight).</summary>
public sealed class GetCurrentUser : ICarterModule
{
    public sealed record Query(string UserId, string[] Roles, string? ApplicationId) : IRequest<Response>;

    public sealed record Response(
        string Id, string? Name, string? Email, string Tier, string[] Roles, string? ApplicationId,
        DateTime CreatedAt, DateTime LastSeenAt);

    private sealed record Row(string Id, string? Name, string? Email, string Tier, DateTime CreatedAt, DateTime LastSeenAt);

    private const string Sql = "SELECT id, name, email, tier, created_at, last_seen_at FROM users WHERE id = @UserId";

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            var row = await conn.QuerySingleAsync<Row>(new CommandDefinition(Sql, query, cancellationToken: ct));
            return new Response(row.Id, row.Name, row.Email, row.Tier, query.Roles, query.ApplicationId, row.CreatedAt, row.LastSeenAt);
        }
    }

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapGroup("/v1/users").WithTags("Users").RequireAuthorization(AuthSetup.UserPolicy)
            .MapGet("/me", Endpoint)
            .WithName("GetCurrentUser")
            .WithSummary("The calling user, as recorded from their token");

    private static async Task<Ok<Response>> Endpoint(ClaimsPrincipal user, IMediator mediator, CancellationToken ct)
    {
        var roles = user.FindAll("role").Select(c => c.Value).ToArray();
        return TypedResults.Ok(await mediator.Send(new Query(user.RequiredUserId(), roles, user.ApplicationId()), ct));
    }
}
