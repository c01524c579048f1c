using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Files;

/// <summary>GET /v1/files/{id}/content: the original bytes, as a download that a browser will not render in place.</summary>
public static class GetFileContent
{
    public sealed record Query(Guid FileId, string UserId, bool IsAdmin) : IRequest<Content?>;

    public sealed record Content(string Filename, string MimeType, byte[] Bytes);

    private const string Sql = $"SELECT d.filename, d.mime_type, d.content AS bytes FROM documents d WHERE d.id = @FileId AND {FilesEndpoints.Visible}";

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, Content?>
    {
        public async Task<Content?> Handle(Query query, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            return await conn.QuerySingleOrDefaultAsync<Content>(new CommandDefinition(Sql, query, cancellationToken: ct));
        }
    }

    public static async Task<Results<FileContentHttpResult, NotFound>> Endpoint(Guid id, HttpContext http, ClaimsPrincipal user, IMediator mediator, CancellationToken ct)
    {
        if (await mediator.Send(new Query(id, user.RequiredUserId(), user.IsAdmin()), ct) is not { } file) return TypedResults.NotFound();
        http.Response.Headers.XContentTypeOptions = "nosniff";
        return TypedResults.File(file.Bytes, file.MimeType, file.Filename);
    }
}
