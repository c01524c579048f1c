using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Files;

/// <summary>
/// DELETE /v1/files/{id}: the file, its pages and its chunks (by cascade, in one statement); an assistant's knowledge
/// changes, so its cache scope moves on.
/// </summary>
public static class DeleteFile
{
    public sealed record Command(Guid FileId, string UserId, bool IsAdmin) : IRequest<bool>;

    private const string Sql = $"""
        WITH removed AS (DELETE FROM documents d WHERE d.id = @FileId AND {FilesEndpoints.Visible} RETURNING d.assistant_id),
        bumped AS (UPDATE assistants SET knowledge_version = knowledge_version + 1 WHERE id IN (SELECT assistant_id FROM removed))
        SELECT count(*) FROM removed
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Command, bool>
    {
        public async Task<bool> Handle(Command command, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            return await conn.ExecuteScalarAsync<long>(new CommandDefinition(Sql, command, cancellationToken: ct)) == 1;
        }
    }

    public static async Task<Results<NoContent, NotFound>> Endpoint(Guid id, ClaimsPrincipal user, IMediator mediator, CancellationToken ct) =>
        await mediator.Send(new Command(id, user.RequiredUserId(), user.IsAdmin()), ct) ? TypedResults.NoContent() : TypedResults.NotFound();
}
