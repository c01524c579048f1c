using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Assistants;

/// <summary>DELETE /v1/assistants/{id} (admin): one statement, so avatar, documents, chunks and cache go in one transaction.</summary>
public static class DeleteAssistant
{
    public sealed record Command(Guid Id) : IRequest<bool>;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Command, bool>
    {
        public async Task<bool> Handle(Command command, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            return await conn.ExecuteAsync(new CommandDefinition("DELETE FROM assistants WHERE id = @Id", command, cancellationToken: ct)) == 1;
        }
    }

    public static async Task<Results<NoContent, NotFound>> Endpoint(Guid id, IMediator mediator, CancellationToken ct) =>
        await mediator.Send(new Command(id), ct) ? TypedResults.NoContent() : TypedResults.NotFound();
}
