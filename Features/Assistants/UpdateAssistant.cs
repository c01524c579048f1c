using System.Text.Json;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Assistants;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Mediation;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Assistants;

/// <summary>PUT /v1/assistants/{id} (admin): fields left out keep their value; new instructions bump the knowledge version.</summary>
public static class UpdateAssistant
{
    public sealed record Command(Guid Id, AssistantFields Fields, ModelCatalog Catalog) : IRequest<Outcome<AssistantView>>, IValidated
    {
        public void Validate(ValidationErrors errors) => Fields.Validate(errors, Catalog, creating: false);
    }

    // A new background without a text color gets a contrasting one (AssistantFields.TextColorFor).
    private const string Sql = $"""
        WITH a AS (
            UPDATE assistants SET
                name = coalesce(@Name, name),
                description = coalesce(@Description, description),
                instructions = coalesce(@Instructions, instructions),
                model = coalesce(@Model, model),
                requires_auth = coalesce(@RequiresAuth, requires_auth),
                settings = coalesce(@Settings::jsonb, settings),
                avatar_bg_color = coalesce(@AvatarBgColor, avatar_bg_color),
                avatar_text_color = coalesce(@AvatarTextColor, avatar_text_color),
                knowledge_version = knowledge_version + CASE WHEN @Instructions IS DISTINCT FROM instructions AND @Instructions IS NOT NULL THEN 1 ELSE 0 END,
                updated_at = now()
            WHERE id = @Id
            RETURNING *
        )
        SELECT {AssistantView.Columns} FROM a
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Command, Outcome<AssistantView>>
    {
        public async Task<Outcome<AssistantView>> Handle(Command command, CancellationToken ct)
        {
            var f = command.Fields;
            await using var conn = await db.OpenConnectionAsync(ct);
            try
            {
                var updated = await conn.QuerySingleOrDefaultAsync<AssistantView>(new CommandDefinition(Sql, new
                {
                    command.Id, Name = f.Name?.Trim(), f.Description, f.Instructions, f.Model, f.RequiresAuth,
                    Settings = f.Settings is null ? null : JsonSerializer.Serialize(f.Settings.Normalized(), AssistantSettings.Json),
                    f.AvatarBgColor, AvatarTextColor = f.TextColorFor(f.AvatarBgColor),
                }, cancellationToken: ct));
                return updated is null ? Failure.NotFound("Assistant") : updated;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                return f.NameTaken();
            }
        }
    }

    public static async Task<Results<Ok<AssistantView>, ProblemHttpResult>> Endpoint(Guid id, AssistantFields body, IMediator mediator, ModelCatalog catalog, CancellationToken ct)
    {
        var outcome = await mediator.Send(new Command(id, body, catalog), ct);
        return outcome.Failure is { } failure ? failure.ToResult() : TypedResults.Ok(outcome.Value!);
    }
}
