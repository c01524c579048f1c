using System.Text.Json;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Assistants;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Mediation;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Assistants;

/// <summary>POST /v1/assistants (admin).</summary>
public static class CreateAssistant
{
    public sealed record Command(AssistantFields Fields, ModelCatalog Catalog) : IRequest<Outcome<AssistantView>>, IValidated
    {
        public void Validate(ValidationErrors errors) => Fields.Validate(errors, Catalog, creating: true);
    }

    private const string Sql = $"""
        WITH a AS (
            INSERT INTO assistants (id, name, description, instructions, model, requires_auth, settings, avatar_bg_color, avatar_text_color)
            VALUES (@Id, @Name, @Description, @Instructions, @Model, @RequiresAuth, @Settings::jsonb, @AvatarBgColor, @AvatarTextColor)
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
                return await conn.QuerySingleAsync<AssistantView>(new CommandDefinition(Sql, new
                {
                    Id = Guid.CreateVersion7(), Name = f.Name!.Trim(), f.Description, f.Instructions, f.Model, RequiresAuth = f.RequiresAuth ?? false,
                    Settings = JsonSerializer.Serialize((f.Settings ?? new AssistantSettings()).Normalized(), AssistantSettings.Json),
                    f.AvatarBgColor, AvatarTextColor = f.TextColorFor(f.AvatarBgColor),
                }, cancellationToken: ct));
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                return f.NameTaken();
            }
        }
    }

    public static async Task<Results<Created<AssistantView>, ProblemHttpResult>> Endpoint(AssistantFields body, IMediator mediator, ModelCatalog catalog, CancellationToken ct)
    {
        var outcome = await mediator.Send(new Command(body, catalog), ct);
        return outcome.Failure is { } failure
            ? failure.ToResult()
            : TypedResults.Created($"/v1/assistants/{outcome.Value!.Id}", outcome.Value);
    }
}
