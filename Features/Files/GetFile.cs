using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Documents;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Files;

/// <summary>GET /v1/files/{id}: the file with its extracted text.</summary>
public static class GetFile
{
    public sealed record Query(Guid FileId, string UserId, bool IsAdmin) : IRequest<FileView?>;

    private const string Sql = $"""
        SELECT {DocumentIngestion.FileWithTextColumns}
        FROM documents d WHERE d.id = @FileId AND {FilesEndpoints.Visible}
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, FileView?>
    {
        public async Task<FileView?> Handle(Query query, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            return await conn.QuerySingleOrDefaultAsync<FileView>(new CommandDefinition(Sql, query, cancellationToken: ct));
        }
    }

    public static async Task<Results<Ok<FileView>, NotFound>> Endpoint(Guid id, ClaimsPrincipal user, IMediator mediator, CancellationToken ct) =>
        await mediator.Send(new Query(id, user.RequiredUserId(), user.IsAdmin()), ct) is { } file ? TypedResults.Ok(file) : TypedResults.NotFound();
}
