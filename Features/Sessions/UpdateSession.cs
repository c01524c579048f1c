using System.Security.Claims;
using System.Text.Json;
using ChatSlices.Features.StreamChat;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Http;
using ChatSlices.Infrastructure.Mediation;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Sessions;

/// <summary>
/// PATCH /v1/chat/sessions/{id}: the session's own settings — <c>system_prompt</c>, <c>temperature</c>,
/// <c>max_tokens</c>, <c>model</c> — used by every later turn that does not send its own, and its <c>title</c>. A field
/// left out is kept; <c>null</c> clears a setting (the assistant's or the service's default applies again). A new model
/// is a switch (SwitchModel), recorded in the conversation as it is there.
/// </summary>
public static class UpdateSession
{
    /// <summary>Each field as sent: <see cref="JsonValueKind.Undefined"/> when left out, <see cref="JsonValueKind.Null"/> to clear.</summary>
    public sealed record Request(JsonElement Title, JsonElement SystemPrompt, JsonElement Temperature, JsonElement MaxTokens, JsonElement Model);

    public sealed record Command(Guid SessionId, string UserId, Request Body) : IRequest<Outcome<SessionView>>, IValidated
    {
        public void Validate(ValidationErrors errors)
        {
            if (Sent(Body.Title)) errors.Require(Text(Body.Title)?.Trim() is { Length: >= 1 and <= 200 }, "title", "A string of 1 to 200 characters.");
            if (Sent(Body.Model)) errors.Require(Text(Body.Model) is { Length: >= 1 and <= 200 }, "model", "A model id of the catalog.");
            if (HasValue(Body.SystemPrompt))
                errors.Require(Text(Body.SystemPrompt) is { Length: >= 1 and <= ChatRequest.MaxSystemPromptChars }, "system_prompt",
                    $"A string of 1 to {ChatRequest.MaxSystemPromptChars} characters, or null.");
            if (HasValue(Body.Temperature))
                errors.Require(Body.Temperature.ValueKind == JsonValueKind.Number && Body.Temperature.GetDouble() is >= 0 and <= 2, "temperature",
                    "A number from 0 to 2, or null.");
            if (HasValue(Body.MaxTokens))
                errors.Require(Body.MaxTokens.ValueKind == JsonValueKind.Number && Body.MaxTokens.TryGetInt32(out var max) && max is >= 1 and <= 8192,
                    "max_tokens", "A whole number from 1 to 8192, or null.");
        }
    }

    /// <summary>In the body, null included (which clears a setting).</summary>
    private static bool Sent(JsonElement field) => field.ValueKind != JsonValueKind.Undefined;

    private static bool HasValue(JsonElement field) => field.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null);

    private static string? Text(JsonElement field) =>
        field.ValueKind == JsonValueKind.String && StorableJson.IsStorable(field) ? field.GetString() : null;

    private const string Sql = $"""
        UPDATE chat_sessions s SET
            title = CASE WHEN @SetTitle THEN @Title ELSE title END,
            title_by_user = title_by_user OR @SetTitle,
            system_prompt = CASE WHEN @SetSystemPrompt THEN @SystemPrompt ELSE system_prompt END,
            temperature = CASE WHEN @SetTemperature THEN @Temperature ELSE temperature END,
            max_tokens = CASE WHEN @SetMaxTokens THEN @MaxTokens ELSE max_tokens END,
            updated_at = now()
        WHERE s.id = @SessionId AND s.user_id = @UserId
        RETURNING {SessionViews.SessionColumns}
        """;

    public sealed class Handler(NpgsqlDataSource db, IMediator mediator) : IRequestHandler<Command, Outcome<SessionView>>
    {
        public async Task<Outcome<SessionView>> Handle(Command command, CancellationToken ct)
        {
            var body = command.Body;
            if (Sent(body.Model))
            {
                var switched = await mediator.Send(new SwitchModel.SwitchModel.Command(command.SessionId, Text(body.Model), command.UserId), ct);
                if (switched.Failure is { } failure) return failure;
            }
            await using var conn = await db.OpenConnectionAsync(ct);
            var updated = await conn.QuerySingleOrDefaultAsync<SessionView>(new CommandDefinition(Sql, new
            {
                command.SessionId, command.UserId,
                SetTitle = Sent(body.Title), Title = Text(body.Title)?.Trim(),
                SetSystemPrompt = Sent(body.SystemPrompt), SystemPrompt = Text(body.SystemPrompt),
                SetTemperature = Sent(body.Temperature), Temperature = HasValue(body.Temperature) ? body.Temperature.GetDouble() : (double?)null,
                SetMaxTokens = Sent(body.MaxTokens), MaxTokens = HasValue(body.MaxTokens) ? body.MaxTokens.GetInt32() : (int?)null,
            }, cancellationToken: ct));
            return updated is null ? Failure.NotFound("Session") : updated;
        }
    }

    public static async Task<IResult> Endpoint(Guid id, Request body, ClaimsPrincipal user, IMediator mediator, CancellationToken ct)
    {
        var outcome = await mediator.Send(new Command(id, user.RequiredUserId(), body), ct);
        return outcome.Failure is { } failure ? failure.ToResult() : TypedResults.Ok(outcome.Value!);
    }
}
