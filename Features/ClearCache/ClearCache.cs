using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.ClearCache;

/// <summary>DELETE /v1/assistants/{id}/cache (admin): purges the assistant's semantic cache and says how many entries went.</summary>
public static class ClearCache
{
    public sealed record Command(Guid AssistantId) : IRequest<Response?>;

    public sealed record Response(long DeletedCount);

    private const string Sql = """
        WITH removed AS (DELETE FROM semantic_cache WHERE assistant_id = @AssistantId RETURNING 1)
        SELECT (SELECT count(*) FROM removed) AS deleted, EXISTS (SELECT 1 FROM assistants WHERE id = @AssistantId) AS found
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Command, Response?>
    {
        public async Task<Response?> Handle(Command command, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            var (deleted, found) = await conn.QuerySingleAsync<(long, bool)>(new CommandDefinition(Sql, command, cancellationToken: ct));
            return found ? new Response(deleted) : null;
        }
    }

    public static async Task<Results<Ok<Response>, NotFound>> Endpoint(Guid id, IMediator mediator, CancellationToken ct) =>
        await mediator.Send(new Command(id), ct) is { } cleared ? TypedResults.Ok(cleared) : TypedResults.NotFound();
}
