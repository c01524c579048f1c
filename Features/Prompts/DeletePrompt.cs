using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Errors;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Prompts;

/// <summary>DELETE /v1/prompts/{id}: the caller's own prompt, or a template when the caller is an admin (403 otherwise).</summary>
public static class DeletePrompt
{
    public sealed record Command(Guid Id, string UserId, bool IsAdmin) : IRequest<Outcome<Response>>;

    public sealed record Response(string Message);

    // One round trip: the delete, then (read only when nothing was deleted) whether the caller can see it at all.
    private const string Sql = $"""
        DELETE FROM prompts p WHERE p.id = @Id AND {PromptView.Writable} RETURNING p.id;
        SELECT p.is_template FROM prompts p WHERE p.id = @Id AND {PromptView.Visible};
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Command, Outcome<Response>>
    {
        public async Task<Outcome<Response>> Handle(Command command, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            await using var results = await conn.QueryMultipleAsync(new CommandDefinition(Sql, command, cancellationToken: ct));
            var deleted = await results.ReadSingleOrDefaultAsync<Guid?>();
            var visible = await results.ReadSingleOrDefaultAsync<bool?>();
            if (deleted is not null) return new Response("Prompt deleted successfully");
            return visible is null ? Failure.NotFound("Prompt") : PromptView.TemplatesAreAdminOnly("delete");
        }
    }

    public static async Task<Results<Ok<Response>, ProblemHttpResult>> Endpoint(Guid id, ClaimsPrincipal user, IMediator mediator, CancellationToken ct)
    {
        var outcome = await mediator.Send(new Command(id, user.RequiredUserId(), user.IsAdmin()), ct);
        return outcome.Failure is { } failure ? failure.ToResult() : TypedResults.Ok(outcome.Value!);
    }
}
