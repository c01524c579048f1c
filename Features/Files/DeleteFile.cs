using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Files;

/// <summary>DELETE /v1/files/{id}: the file, its pages and its chunks (by cascade, in one statement).</summary>
public static class DeleteFile
{
    public sealed record Command(Guid FileId, string UserId) : IRequest<bool>;

    private const string Sql = $"DELETE FROM documents d WHERE d.id = @FileId AND {FilesEndpoints.Visible}";

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Command, bool>
    {
        public async Task<bool> Handle(Command command, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            return await conn.ExecuteAsync(new CommandDefinition(Sql, command, cancellationToken: ct)) == 1;
        }
    }

    public static async Task<Results<NoContent, NotFound>> Endpoint(Guid id, ClaimsPrincipal user, IMediator mediator, CancellationToken ct) =>
        await mediator.Send(new Command(id, user.RequiredUserId()), ct) ? TypedResults.NoContent() : TypedResults.NotFound();
}
