using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Mediation;
using Dapper;
using MediatR;
using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace ChatSlices.Features.Sessions;

/// <summary>
/// GET /v1/chat/sessions/{id}/messages?skip&amp;limit&amp;branch: a page of the active branch, root first, each message with
/// its siblings; with <c>branch=all</c> a page of the whole tree (every message with its <c>parent_id</c>, oldest
/// first). The exact total either way.
/// </summary>
public static class ListMessages
{
    public static readonly string[] Branches = ["active", "all"];

    public sealed record Query(Guid SessionId, string UserId, SkipLimit Page, string Branch) : IRequest<Response?>, IValidated
    {
        public void Validate(ValidationErrors errors)
        {
            Page.Validate(errors);
            errors.Require(Branches.Contains(Branch), "branch", "Must be active or all.");
        }
    }

    public sealed record Response(long Total, IReadOnlyList<MessageView> Items);

    private const string OwnSession = "SELECT count(*) FROM chat_sessions s WHERE s.id = @SessionId AND s.user_id = @UserId;";

    // The branch walked twice (its length, then the page): a page beyond the end still has the total.
    private const string BranchSql = $"""
        {OwnSession}
        WITH RECURSIVE session AS (SELECT s.active_leaf_id FROM chat_sessions s WHERE s.id = @SessionId AND s.user_id = @UserId),
        {SessionViews.ActiveBranchCte}
        SELECT count(*) FROM branch;
        WITH RECURSIVE session AS (SELECT s.active_leaf_id FROM chat_sessions s WHERE s.id = @SessionId AND s.user_id = @UserId),
        {SessionViews.ActiveBranchCte}
        SELECT {SessionViews.BranchMessageColumns} FROM branch b JOIN chat_messages m ON m.id = b.id
        ORDER BY b.depth DESC
        OFFSET @Skip LIMIT @Limit;
        """;

    private const string TreeSql = $"""
        {OwnSession}
        SELECT count(*) FROM chat_messages m WHERE m.session_id = @SessionId
            AND EXISTS (SELECT 1 FROM chat_sessions s WHERE s.id = @SessionId AND s.user_id = @UserId);
        SELECT {SessionViews.MessageColumns} FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id
        WHERE m.session_id = @SessionId AND s.user_id = @UserId
        ORDER BY m.created_at, m.id
        OFFSET @Skip LIMIT @Limit;
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, Response?>
    {
        public async Task<Response?> Handle(Query query, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            await using var results = await conn.QueryMultipleAsync(new CommandDefinition(query.Branch == "all" ? TreeSql : BranchSql,
                new { query.SessionId, query.UserId, query.Page.Skip, query.Page.Limit, Depth = int.MaxValue }, cancellationToken: ct));
            if (await results.ReadSingleAsync<long>() == 0) return null;
            var total = await results.ReadSingleAsync<long>();
            return new Response(total, (await results.ReadAsync<MessageView>()).AsList());
        }
    }

    public static async Task<Results<Ok<Response>, NotFound>> Endpoint(Guid id, ClaimsPrincipal user, IMediator mediator, CancellationToken ct,
        [FromQuery] string? skip = null, [FromQuery] string? limit = null, [FromQuery] string? branch = null) =>
        await mediator.Send(new Query(id, user.RequiredUserId(), new SkipLimit(skip, limit, DefaultLimit: 50, MaxLimit: 100), branch ?? "active"), ct) is { } page
            ? TypedResults.Ok(page)
            : TypedResults.NotFound();
}
