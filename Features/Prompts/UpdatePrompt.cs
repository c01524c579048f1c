using ChatSlices.Infrastructure.Prompts;
using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Mediation;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Prompts;

/// <summary>
/// PUT /v1/prompts/{id}: fields left out (or null) keep their value, an empty <c>scenario</c> or <c>description</c> clears it,
/// new content re-parses the variables. Whether a prompt is a template is fixed when it is created.
/// </summary>
public static class UpdatePrompt
{
    public sealed record Command(Guid Id, PromptFields Fields, string UserId, bool IsAdmin) : IRequest<Outcome<PromptView>>, IValidated
    {
        public void Validate(ValidationErrors errors) => Fields.Validate(errors, creating: false);
    }

    // One round trip: the update, then (read only when nothing was updated) whether the caller can see the prompt at all,
    // which tells a template the caller may not change (403) from a prompt that is not theirs or not there (404).
    private const string Sql = $"""
        UPDATE prompts p SET
            title = coalesce(@Title, p.title),
            content = coalesce(@Content, p.content),
            variables = coalesce(@Variables::text[], p.variables),
            scenario = CASE WHEN @Scenario::text IS NULL THEN p.scenario ELSE nullif(@Scenario, '') END,
            description = CASE WHEN @Description::text IS NULL THEN p.description ELSE nullif(@Description, '') END,
            metadata = coalesce(@Metadata::jsonb, p.metadata),
            updated_at = now()
        WHERE p.id = @Id AND {PromptView.Writable}
        RETURNING {PromptView.Columns};
        SELECT p.is_template FROM prompts p WHERE p.id = @Id AND {PromptView.Visible};
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Command, Outcome<PromptView>>
    {
        public async Task<Outcome<PromptView>> Handle(Command command, CancellationToken ct)
        {
            var f = command.Fields;
            await using var conn = await db.OpenConnectionAsync(ct);
            await using var results = await conn.QueryMultipleAsync(new CommandDefinition(Sql, new
            {
                command.Id, command.UserId, command.IsAdmin,
                Title = f.Title?.Trim(),
                f.Content,
                Variables = f.Content is null ? null : PromptTemplate.Parse(f.Content).Variables.ToArray(),
                Scenario = f.Scenario?.Trim(),
                Description = f.Description?.Trim(),
                Metadata = f.Metadata?.GetRawText(),
            }, cancellationToken: ct));
            var updated = await results.ReadSingleOrDefaultAsync<PromptView>();
            var visible = await results.ReadSingleOrDefaultAsync<bool?>();
            if (updated is not null) return updated;
            return visible is null ? Failure.NotFound("Prompt") : PromptView.TemplatesAreAdminOnly("change");
        }
    }

    public static async Task<Results<Ok<PromptView>, ProblemHttpResult>> Endpoint(Guid id, PromptFields body, ClaimsPrincipal user, IMediator mediator, CancellationToken ct)
    {
        var outcome = await mediator.Send(new Command(id, body, user.RequiredUserId(), user.IsAdmin()), ct);
        return outcome.Failure is { } failure ? failure.ToResult() : TypedResults.Ok(outcome.Value!);
    }
}
