using ChatSlices.Infrastructure.Prompts;
using System.Security.Claims;
using System.Text.Json;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Mediation;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Prompts;

/// <summary>POST /v1/prompts: a prompt of the caller's, or with <c>is_template</c> (admins only) a template that belongs to nobody.</summary>
public static class CreatePrompt
{
    public sealed record Request(
        string? Title, string? Content, string? Scenario = null, string? Description = null, JsonElement? Metadata = null, bool? IsTemplate = null);

    public sealed record Command(Request Body, string UserId, bool IsAdmin) : IRequest<Outcome<PromptView>>, IValidated
    {
        public PromptFields Fields => new(Body.Title, Body.Content, Body.Scenario, Body.Description, Body.Metadata);

        public void Validate(ValidationErrors errors) => Fields.Validate(errors, creating: true);
    }

    private const string Sql = $$"""
        INSERT INTO prompts AS p (id, owner_id, title, content, scenario, description, metadata, is_template, variables)
        VALUES (@Id, @OwnerId, @Title, @Content, @Scenario, @Description, coalesce(@Metadata::jsonb, '{}'), @IsTemplate, @Variables)
        RETURNING {{PromptView.Columns}}
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Command, Outcome<PromptView>>
    {
        public async Task<Outcome<PromptView>> Handle(Command command, CancellationToken ct)
        {
            var body = command.Body;
            var isTemplate = body.IsTemplate == true;
            if (isTemplate && !command.IsAdmin) return PromptView.TemplatesAreAdminOnly("create");

            await using var conn = await db.OpenConnectionAsync(ct);
            return await conn.QuerySingleAsync<PromptView>(new CommandDefinition(Sql, new
            {
                Id = Guid.CreateVersion7(),
                OwnerId = isTemplate ? null : command.UserId,
                Title = body.Title!.Trim(),
                body.Content,
                Scenario = PromptFields.Optional(body.Scenario),
                Description = PromptFields.Optional(body.Description),
                Metadata = body.Metadata?.GetRawText(),
                IsTemplate = isTemplate,
                Variables = PromptTemplate.Parse(body.Content!).Variables.ToArray(),
            }, cancellationToken: ct));
        }
    }

    public static async Task<Results<Created<PromptView>, ProblemHttpResult>> Endpoint(Request body, ClaimsPrincipal user, IMediator mediator, CancellationToken ct)
    {
        var outcome = await mediator.Send(new Command(body, user.RequiredUserId(), user.IsAdmin()), ct);
        return outcome.Failure is { } failure
            ? failure.ToResult()
            : TypedResults.Created($"/v1/prompts/{outcome.Value!.Id}", outcome.Value);
    }
}
