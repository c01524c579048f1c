using System.Security.Claims;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Assistants;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Mediation;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Sessions;

/// <summary>POST /v1/chat/sessions: an empty session; its title comes from the first turn when none is given.</summary>
public static class CreateSession
{
    public sealed record Request(string? Title, Guid? AssistantId, string? Model);

    public sealed record Command(Request Body, string UserId, string? ApplicationId) : IRequest<Outcome<SessionView>>, IValidated
    {
        public void Validate(ValidationErrors errors) => errors.Length(Body.Title, "title", 1, 200);
    }

    private const string Sql = $"""
        WITH s AS (
            INSERT INTO chat_sessions (id, user_id, application_id, assistant_id, model, title, title_by_user)
            VALUES (@Id, @UserId, @ApplicationId, @AssistantId, @Model, @Title, @Title IS NOT NULL)
            RETURNING *
        )
        SELECT {SessionViews.SessionColumns} FROM s
        """;

    public sealed class Handler(NpgsqlDataSource db, ModelCatalog catalog) : IRequestHandler<Command, Outcome<SessionView>>
    {
        public async Task<Outcome<SessionView>> Handle(Command command, CancellationToken ct)
        {
            var body = command.Body;
            await using var conn = await db.OpenConnectionAsync(ct);
            AssistantProfile? assistant = null;
            if (body.AssistantId is { } assistantId && (assistant = await AssistantProfile.LoadAsync(conn, assistantId, ct)) is null)
                return Failure.NotFound("Assistant");
            var model = body.Model ?? assistant?.Model ?? catalog.DefaultChatModel;
            if (catalog.Require(model, ModelKind.Chat).Failure is { } unknown) return unknown;

            var session = await conn.QuerySingleAsync<SessionView>(new CommandDefinition(Sql, new
            {
                Id = Guid.CreateVersion7(), command.UserId, command.ApplicationId, body.AssistantId, Model = model, Title = body.Title?.Trim(),
            }, cancellationToken: ct));
            return session with { Messages = [], MessagesTruncated = false };
        }
    }

    public static async Task<Results<Created<SessionView>, ProblemHttpResult>> Endpoint(Request body, ClaimsPrincipal user, IMediator mediator, CancellationToken ct)
    {
        var outcome = await mediator.Send(new Command(body, user.RequiredUserId(), user.ApplicationId()), ct);
        return outcome.Failure is { } failure
            ? failure.ToResult()
            : TypedResults.Created($"/v1/chat/sessions/{outcome.Value!.Id}", outcome.Value);
    }
}
