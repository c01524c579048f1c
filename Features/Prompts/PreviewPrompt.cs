using ChatSlices.Infrastructure.Http;
using ChatSlices.Infrastructure.Prompts;
using System.Security.Claims;
using System.Text.Json;
using ChatSlices.Features.StreamChat;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Mediation;
using ChatSlices.Infrastructure.RateLimiting;
using ChatSlices.Infrastructure.Usage;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Prompts;

/// <summary>
/// POST /v1/prompts/preview: fills a stored prompt (<c>prompt_id</c>, own or template) or unsaved <c>content</c> with
/// <c>variables</c>. With any variable missing it answers with the partly filled text and the missing names, without
/// calling a model; otherwise it sends the filled text to the model once as a user turn. Each preview of a stored prompt
/// counts as a use of it (<c>usage_count</c>); the model call counts against the caller's daily token quota like a chat turn,
/// and shows in their usage report as <c>preview</c>.
/// </summary>
public static class PreviewPrompt
{
    public const int MaxOutputTokens = 512;

    public sealed record Request(Guid? PromptId = null, string? Content = null, Dictionary<string, JsonElement>? Variables = null, string? Model = null);

    public sealed record Command(Request Body, string UserId, Caller Caller) : IRequest<Outcome<Response>>, IValidated
    {
        public void Validate(ValidationErrors errors)
        {
            if (Body.PromptId is null && Body.Content is null)
            {
                errors.Add("prompt_id", "Send prompt_id or content.");
                errors.Add("content", "Send prompt_id or content.");
            }
            else if (Body.PromptId is not null && Body.Content is not null)
                errors.Add("content", "Send prompt_id or content, not both.");
            else
                PromptFields.ValidateContent(errors, Body.Content, "content");
            foreach (var (name, value) in Body.Variables ?? [])
                if (!StorableJson.IsStorable(value)) errors.Add($"variables.{name}", StorableJson.Problem);
                else errors.Require(value.ValueKind != JsonValueKind.String || value.GetString()!.Length <= PromptFields.MaxContent,
                    $"variables.{name}", $"Must be at most {PromptFields.MaxContent} characters.");
        }

        /// <summary>Variable values as text: strings as they are, other JSON values (numbers, booleans, ...) as JSON; null is missing.</summary>
        public Dictionary<string, string> Values() => (Body.Variables ?? []).Where(v => v.Value.ValueKind != JsonValueKind.Null)
            .ToDictionary(v => v.Key, v => v.Value.ValueKind == JsonValueKind.String ? v.Value.GetString()! : v.Value.GetRawText(), StringComparer.Ordinal);
    }

    public sealed record Response(string Rendered, string? Preview, long TokensUsed, string? ModelUsed, IReadOnlyList<string> MissingVariables);

    public sealed class Handler(NpgsqlDataSource db, IMediator mediator) : IRequestHandler<Command, Outcome<Response>>
    {
        public async Task<Outcome<Response>> Handle(Command command, CancellationToken ct)
        {
            var body = command.Body;
            var content = body.Content;
            if (body.PromptId is { } promptId)
            {
                await using var conn = await db.OpenConnectionAsync(ct);
                content = await PromptUsage.ReadAsync(conn, promptId, command.UserId, ct);
                if (content is null) return Failure.NotFound("Prompt");
            }

            var values = command.Values();
            if (PromptTemplate.RenderedLength(content!, values) > PromptTemplate.MaxRenderedLength)
                throw RequestValidationException.For("variables", $"The filled prompt would be longer than {PromptTemplate.MaxRenderedLength} characters.");
            var rendered = PromptTemplate.Render(content!, values);
            if (rendered.MissingVariables.Count > 0)
            {
                await CountUseAsync(body.PromptId, ct);
                return new Response(rendered.Text, null, 0, null, rendered.MissingVariables);
            }

            var answer = await mediator.Send(new AskModel.Query(command.Caller, command.UserId, body.Model, rendered.Text, MaxOutputTokens, UsageKind.Preview), ct);
            // A preview refused before the model was asked (unknown model, over quota) is no use of the prompt.
            if (answer.Failure is { Status: StatusCodes.Status400BadRequest or StatusCodes.Status429TooManyRequests } refused) return refused;
            await CountUseAsync(body.PromptId, ct);
            if (answer.Failure is { } failed) return failed;
            return new Response(rendered.Text, answer.Value!.Text, answer.Value.TokensUsed, answer.Value.Model, []);
        }

        private async Task CountUseAsync(Guid? promptId, CancellationToken ct)
        {
            if (promptId is not { } id) return;
            await using var conn = await db.OpenConnectionAsync(ct);
            await PromptUsage.CountAsync(conn, id, ct);
        }
    }

    public static async Task<Results<Ok<Response>, ProblemHttpResult>> Endpoint(Request body, ClaimsPrincipal user, IMediator mediator, HttpContext http, CancellationToken ct)
    {
        var outcome = await mediator.Send(new Command(body, user.RequiredUserId(), Caller.Of(http)), ct);
        return outcome.Failure is { } failure ? failure.ToResult() : TypedResults.Ok(outcome.Value!);
    }
}
