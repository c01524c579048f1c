using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Mediation;
using Dapper;
using MediatR;
using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace ChatSlices.Features.Sessions;

/// <summary>GET /v1/chat/sessions/{id}/messages?skip&amp;limit: a page of messages, oldest first, with the exact total.</summary>
public static class ListMessages
{
    public sealed record Query(Guid SessionId, string UserId, SkipLimit Page) : IRequest<Response?>, IValidated
    {
        public void Validate(ValidationErrors errors) => Page.Validate(errors);
    }

    public sealed record Response(long Total, IReadOnlyList<MessageView> Items);

    private const string Sql = $"""
        SELECT count(*) FROM chat_sessions s WHERE s.id = @SessionId AND s.user_id = @UserId;
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
            await using var results = await conn.QueryMultipleAsync(new CommandDefinition(Sql, new { query.SessionId, query.UserId, query.Page.Skip, query.Page.Limit }, cancellationToken: ct));
            if (await results.ReadSingleAsync<long>() == 0) return null;
            var total = await results.ReadSingleAsync<long>();
            return new Response(total, (await results.ReadAsync<MessageView>()).AsList());
        }
    }

    public static async Task<Results<Ok<Response>, NotFound>> Endpoint(Guid id, ClaimsPrincipal user, IMediator mediator, CancellationToken ct,
        [FromQuery] string? skip = null, [FromQuery] string? limit = null) =>
        await mediator.Send(new Query(id, user.RequiredUserId(), new SkipLimit(skip, limit, DefaultLimit: 50, MaxLimit: 100)), ct) is { } page ? TypedResults.Ok(page) : TypedResults.NotFound();
}
