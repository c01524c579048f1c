using System.Security.Claims;
using Carter;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Mediation;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.SwitchModel;

/// <summary>
/// POST /v1/chat/switch-model: later turns of the session use another model. History is kept; the switch is
/// recorded as a system message in the session (shown to clients, never sent to a model).
/// </summary>
public sealed class SwitchModel : ICarterModule
{
    public sealed record Request(Guid? SessionId, string? Model);

    public sealed record Command(Guid? SessionId, string? Model, string UserId) : IRequest<Outcome<Response>>, IValidated
    {
        public void Validate(ValidationErrors errors)
        {
            errors.Require(SessionId is not null, "session_id", "Required.");
            errors.Require(!string.IsNullOrWhiteSpace(Model), "model", "Required.");
        }
    }

    public sealed record Message(string Role, string Content, string? Model, DateTime CreatedAt);

    public sealed record Response(Guid SessionId, string Model, string? Title, IReadOnlyList<Message> Messages);

    private sealed record Switched(string Previous, string? Title);

    private const string Sql = """
        WITH previous AS (
            SELECT id, model, active_leaf_id FROM chat_sessions WHERE id = @SessionId AND user_id = @UserId FOR UPDATE
        ), updated AS (
            -- The switch is a message at the end of the active branch, which it extends.
            UPDATE chat_sessions s SET model = @Model, updated_at = now(),
                active_leaf_id = CASE WHEN previous.model <> @Model THEN @EventId ELSE s.active_leaf_id END
            FROM previous WHERE s.id = previous.id
            RETURNING previous.model AS previous, previous.active_leaf_id, s.title
        ), recorded AS (
            INSERT INTO chat_messages (id, session_id, parent_id, user_id, role, content, model)
            SELECT @EventId, @SessionId, active_leaf_id, @UserId, 'system', 'Model switched from ' || previous || ' to ' || @Model || '.', @Model
            FROM updated WHERE previous <> @Model
        )
        SELECT previous, title FROM updated;

        SELECT m.role, m.content, m.model, m.created_at FROM chat_messages m
        WHERE m.session_id = @SessionId AND EXISTS (SELECT 1 FROM chat_sessions s WHERE s.id = @SessionId AND s.user_id = @UserId)
        ORDER BY m.created_at;
        """;

    public sealed class Handler(NpgsqlDataSource db, ModelCatalog catalog) : IRequestHandler<Command, Outcome<Response>>
    {
        public async Task<Outcome<Response>> Handle(Command command, CancellationToken ct)
        {
            if (catalog.Require(command.Model, ModelKind.Chat).Failure is { } unknown) return unknown;

            await using var conn = await db.OpenConnectionAsync(ct);
            await using var results = await conn.QueryMultipleAsync(new CommandDefinition(Sql,
                new { command.SessionId, command.UserId, command.Model, EventId = Guid.CreateVersion7() }, cancellationToken: ct));
            var switched = await results.ReadSingleOrDefaultAsync<Switched>();
            var messages = (await results.ReadAsync<Message>()).AsList();
            if (switched is null) return Failure.NotFound("Session");
            return new Response(command.SessionId!.Value, command.Model!, switched.Title, messages);
        }
    }

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapGroup("/v1/chat/switch-model").WithTags("Chat").RequireAuthorization(AuthSetup.UserPolicy)
            .MapPost("", Endpoint)
            .WithName("SwitchModel")
            .WithSummary("Use another model for the session's next turns, keeping its history")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);

    private static async Task<Results<Ok<Response>, ProblemHttpResult>> Endpoint(Request body, ClaimsPrincipal user, IMediator mediator, CancellationToken ct)
    {
        var outcome = await mediator.Send(new Command(body.SessionId, body.Model, user.RequiredUserId()), ct);
        return outcome.Failure is { } failure ? failure.ToResult() : TypedResults.Ok(outcome.Value!);
    }
}
