using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ChatSlices.Features.Sessions;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Mediation;
using ChatSlices.Infrastructure.RateLimiting;
using Dapper;
using MediatR;
using Microsoft.AspNetCore.Http.Json;
using FromHeaderAttribute = Microsoft.AspNetCore.Mvc.FromHeaderAttribute;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// POST /v1/chat/sessions/{id}/messages: a non-streaming turn through the chat pipeline. With an
/// <c>Idempotency-Key</c>, a retry with the same body gets the stored answer (no second model call), a different
/// body with the same key is 422, and a retry while the first is still running is 409.
/// </summary>
public static class SendMessage
{
    public const string IdempotencyHeader = "Idempotency-Key";

    public sealed record Request(string? Content, string? Model, double? Temperature, int? MaxTokens, string? ContextMode);

    public sealed record Command(Guid SessionId, Request Body, ClaimsPrincipal User, Caller Caller, string? IdempotencyKey) : IRequest<Outcome<Response>>, IValidated
    {
        public ChatRequest AsChatRequest() => new(Query: Body.Content, SessionId: SessionId, Model: Body.Model,
            Temperature: Body.Temperature, MaxTokens: Body.MaxTokens, ContextMode: Body.ContextMode, Stream: false);

        public void Validate(ValidationErrors errors)
        {
            var chat = new ValidationErrors();
            AsChatRequest().Validate(chat);
            foreach (var (field, messages) in chat.ToDictionary())
                foreach (var message in messages) errors.Add(field == "query" ? "content" : field, message);
            errors.Require(Body.Content is not null, "content", "Required.");
            errors.Length(IdempotencyKey, IdempotencyHeader, 1, 200);
        }
    }

    public sealed record Response(MessageView UserMessage, MessageView AssistantMessage, IReadOnlyList<Citation> Sources, UsageReported? Usage);

    private sealed record KeyState(string RequestHash, string Status, string? Response, bool Claimed);

    private const string ExpireKeySql = """
        DELETE FROM idempotency_keys
        WHERE user_id = @UserId AND key = @Key
          AND (created_at < now() - interval '24 hours' OR (status = 'in_flight' AND created_at < now() - interval '10 minutes'))
        """;

    // Either this request claims the key (claimed = true) or the row of whoever holds it comes back.
    private const string ClaimKeySql = """
        WITH claimed AS (
            INSERT INTO idempotency_keys (user_id, key, request_hash, status) VALUES (@UserId, @Key, @RequestHash, 'in_flight')
            ON CONFLICT (user_id, key) DO NOTHING
            RETURNING request_hash, status, NULL::text AS response, true AS claimed
        )
        SELECT * FROM claimed
        UNION ALL
        SELECT request_hash, status, response::text, false FROM idempotency_keys
        WHERE user_id = @UserId AND key = @Key AND NOT EXISTS (SELECT 1 FROM claimed)
        """;

    private const string CompleteKeySql = "UPDATE idempotency_keys SET status = 'done', response = @Response::jsonb WHERE user_id = @UserId AND key = @Key";

    private const string ReleaseKeySql = "DELETE FROM idempotency_keys WHERE user_id = @UserId AND key = @Key AND status = 'in_flight'";

    private const string MessagesSql = $"SELECT {SessionViews.MessageColumns} FROM chat_messages m WHERE m.id IN (@UserMessageId, @MessageId) ORDER BY m.created_at";

    public sealed class Handler(NpgsqlDataSource db, IMediator mediator, IOptions<JsonOptions> json) : IRequestHandler<Command, Outcome<Response>>
    {
        public async Task<Outcome<Response>> Handle(Command command, CancellationToken ct)
        {
            var key = command.IdempotencyKey is null ? null : new
            {
                UserId = command.User.RequiredUserId(), Key = command.IdempotencyKey,
                RequestHash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(command.SessionId + "\n" + JsonSerializer.Serialize(command.Body)))),
            };
            if (key is not null)
            {
                await using var conn = await db.OpenConnectionAsync(ct);
                await conn.ExecuteAsync(new CommandDefinition(ExpireKeySql, key, cancellationToken: ct));
                // No row at all: a concurrent claim committed after this statement's snapshot; it is visible now.
                var state = await conn.QuerySingleOrDefaultAsync<KeyState>(new CommandDefinition(ClaimKeySql, key, cancellationToken: ct))
                    ?? await conn.QuerySingleAsync<KeyState>(new CommandDefinition(ClaimKeySql, key, cancellationToken: ct));
                if (state.RequestHash != key.RequestHash)
                    return new Failure(StatusCodes.Status422UnprocessableEntity, "This Idempotency-Key was used with a different request.", "idempotency_key_reused");
                if (state.Status == "done") return JsonSerializer.Deserialize<Response>(state.Response!, json.Value.SerializerOptions)!;
                if (!state.Claimed)
                    return new Failure(StatusCodes.Status409Conflict, "A request with this Idempotency-Key is still being answered.", "idempotency_key_in_flight");
            }

            if (key is null) return await RunAsync(command, ct);
            Response? done = null;
            try
            {
                var outcome = await RunAsync(command, ct);
                done = outcome.Value;
                return outcome;
            }
            finally
            {
                // However the run ended (the client gone, an exception): not tied to the request, or the retry meets 409.
                await using var conn = await db.OpenConnectionAsync(CancellationToken.None);
                if (done is not null)
                    await conn.ExecuteAsync(CompleteKeySql, new { key.UserId, key.Key, Response = JsonSerializer.Serialize(done, json.Value.SerializerOptions) });
                else
                    await conn.ExecuteAsync(ReleaseKeySql, new { key.UserId, key.Key });
            }
        }

        private async Task<Outcome<Response>> RunAsync(Command command, CancellationToken ct)
        {
            var prepared = await mediator.Send(new StreamChat.Command(command.AsChatRequest(), command.User, command.Caller, OwnSessionOnly: true), ct);
            if (prepared.Failure is { } failure) return failure;
            await using var run = prepared.Value!;
            var transcript = await ChatTranscript.CollectAsync(run.Events, ct);
            if (transcript.Failure is { } failed) return new Failure(failed.HttpStatus, failed.Message, failed.Code);

            await using var conn = await db.OpenConnectionAsync(ct);
            var messages = (await conn.QueryAsync<MessageView>(new CommandDefinition(MessagesSql,
                new { transcript.Session.UserMessageId, transcript.Session.MessageId }, cancellationToken: ct))).AsList();
            return new Response(messages[0], messages[1], transcript.Sources, transcript.Usage);
        }
    }

    public static async Task<Results<Created<Response>, ProblemHttpResult>> Endpoint(Guid id, Request body, ClaimsPrincipal user, HttpContext http,
        IMediator mediator, CancellationToken ct, [FromHeader(Name = IdempotencyHeader)] string? idempotencyKey = null)
    {
        var outcome = await mediator.Send(new Command(id, body, user, Caller.Of(http), idempotencyKey), ct);
        return outcome.Failure is { } failure
            ? failure.ToResult()
            : TypedResults.Created($"/v1/chat/sessions/{id}/messages", outcome.Value!);
    }
}
