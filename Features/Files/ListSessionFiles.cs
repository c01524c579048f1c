using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Documents;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Files;

/// <summary>GET /v1/chat/sessions/{id}/files.</summary>
public static class ListSessionFiles
{
    public sealed record Query(Guid SessionId, string UserId, bool IsAdmin = false) : IRequest<Response?>;

    public sealed record Response(IReadOnlyList<FileView> Items);

    private const string Sql = $"""
        SELECT EXISTS (SELECT 1 FROM chat_sessions WHERE id = @SessionId AND user_id = @UserId);
        SELECT {DocumentIngestion.FileColumns} FROM documents d
        WHERE d.session_id = @SessionId AND {FilesEndpoints.Visible}
        ORDER BY d.created_at;
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, Response?>
    {
        public async Task<Response?> Handle(Query query, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            await using var results = await conn.QueryMultipleAsync(new CommandDefinition(Sql, query, cancellationToken: ct));
            if (!await results.ReadSingleAsync<bool>()) return null;
            return new Response((await results.ReadAsync<FileView>()).AsList());
        }
    }

    public static async Task<Results<Ok<Response>, NotFound>> Endpoint(Guid id, ClaimsPrincipal user, IMediator mediator, CancellationToken ct) =>
        await mediator.Send(new Query(id, user.RequiredUserId()), ct) is { } files ? TypedResults.Ok(files) : TypedResults.NotFound();
}
