using System.Runtime.CompilerServices;
using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Mediation;
using ChatSlices.Infrastructure.RateLimiting;
using Carter;
using MediatR;
using Microsoft.Extensions.Options;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// POST /v1/chat/stream: one chat turn, streamed as Server-Sent Events (default), NDJSON (<c>Accept: application/x-ndjson</c>),
/// plain tokens (<c>stream_format: tokens</c>), or answered as one JSON body (<c>stream: false</c>).
/// </summary>
public sealed class StreamChat : ICarterModule
{
    /// <summary>
    /// One chat turn from this slice's doors: resolved (every check, before the first byte), then its event stream.
    /// </summary>
    /// <param name="OwnSessionOnly">Continue only the caller's own session; otherwise a guest session may be continued by its id.</param>
    public sealed record Command(ChatRequest Body, ClaimsPrincipal User, Caller Caller, bool OwnSessionOnly = false) : IRequest<Outcome<ChatRun>>, IValidated
    {
        /// <summary>Runs the turn on this token instead of the request's: a turn whose stream outlives its request (resumable).</summary>
        public CancellationToken? Generation { get; init; }

        public void Validate(ValidationErrors errors) => Body.Validate(errors);
    }

    public sealed class Handler(ResolveTurn resolve, TurnEvents events) : IRequestHandler<Command, Outcome<ChatRun>>
    {
        public async Task<Outcome<ChatRun>> Handle(Command command, CancellationToken ct)
        {
            var plan = await resolve.ResolveAsync(command.Body, command.User, command.Caller, command.OwnSessionOnly, ct);
            return plan.Failure is { } failure ? failure : await events.Start(plan.Value!).OpenAsync(command.Generation ?? ct);
        }
    }

    public sealed record ReplyMessage(Guid Id, Guid SessionId, string Role, string Content, string Model, string Status, string? FinishReason,
        IReadOnlyList<ToolCall>? ToolCalls);

    public sealed record Response(Guid SessionId, ReplyMessage Message, IReadOnlyList<Citation> Sources, UsageReported? Usage, bool Cached);

    public void AddRoutes(IEndpointRouteBuilder app)
    {
        var chat = app.MapGroup("/v1/chat").WithTags("Chat").RequireAuthorization(AuthSetup.OptionalPolicy);
        chat.MapPost("/stream", Endpoint)
            .WithName("StreamChat")
            .WithMetadata(new ModelCallRoute())
            .WithSummary("Stream a reply (SSE events session, sources, text…, usage, done; NDJSON; tokens; or one JSON body)")
            .Produces(StatusCodes.Status200OK, contentType: EventStream.SseContentType, additionalContentTypes: [EventStream.NdjsonContentType])
            .Produces<Response>(StatusCodes.Status200OK, "application/json")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);
        ChatCompletions.Map(chat);
        ResumeStream.Map(chat);
    }

    private static Task<IResult> Endpoint(ChatRequest body, ClaimsPrincipal user, IMediator mediator, LiveStreams live,
        IOptions<ChatSettings> settings, HttpContext http, CancellationToken ct) =>
        RespondAsync(body, ownSessionOnly: false, user, mediator, live, settings.Value, http, ct);

    /// <summary>
    /// Runs the turn and answers it in the format asked: events (SSE, NDJSON), tokens, or one JSON body
    /// (<c>stream: false</c>). Every door that streams a turn answers through this.
    /// </summary>
    public static async Task<IResult> RespondAsync(ChatRequest body, bool ownSessionOnly, ClaimsPrincipal user, IMediator mediator, LiveStreams live,
        ChatSettings settings, HttpContext http, CancellationToken ct)
    {
        // Events (SSE, NDJSON) are resumable: the turn runs on its own token, which the live stream owns once it has
        // started. Tokens and JSON are not: their turn ends with the request.
        var generation = body.Stream != false && body.StreamFormat != "tokens" ? new CancellationTokenSource() : null;
        Outcome<ChatRun> outcome;
        try
        {
            outcome = await mediator.Send(new Command(body, user, Caller.Of(http), ownSessionOnly) { Generation = generation?.Token }, ct);
        }
        catch
        {
            generation?.Dispose();
            throw;
        }
        if (outcome.Failure is { } failure)
        {
            generation?.Dispose();
            return failure.ToResult();
        }

        var heartbeat = TimeSpan.FromSeconds(settings.HeartbeatSeconds);
        var writeTimeout = TimeSpan.FromSeconds(settings.StreamWriteTimeoutSeconds);
        if (generation is not null)
        {
            var stream = live.Start(outcome.Value!, user.UserId(), generation);
            try
            {
                await EventStream.WriteAsync(http, stream.ReadAsync(lastEventId: 0), EventStream.WantsNdjson(http.Request), heartbeat, writeTimeout);
            }
            finally
            {
                stream.Leave();
                // The request holds its concurrent-streams permit until the turn ends, however long after its reader left.
                await stream.Finished;
            }
            return Results.Empty;
        }

        await using var run = outcome.Value!;
        if (body.Stream == false) return await AnswerWholeAsync(run, ct);
        await EventStream.WriteDataAsync(http, AsTokens(run.Events), heartbeat, writeTimeout);
        return Results.Empty;
    }

    private static async Task<IResult> AnswerWholeAsync(ChatRun run, CancellationToken ct)
    {
        var transcript = await ChatTranscript.CollectAsync(run.Events, ct);
        if (transcript.Failure is { } failed)
            return TypedResults.Problem(statusCode: failed.HttpStatus, detail: failed.Message,
                extensions: new Dictionary<string, object?> { ["code"] = failed.Code, ["session_id"] = run.SessionId });
        var message = new ReplyMessage(run.MessageId, run.SessionId, "assistant", transcript.Text, run.Model, "complete", transcript.Done.FinishReason,
            transcript.ToolCalls);
        return TypedResults.Ok(new Response(run.SessionId, message, transcript.Sources, transcript.Usage, transcript.Done.Cached));
    }

    /// <summary><c>data: &lt;token&gt;</c> per text chunk, then <c>data: [DONE]</c>; a failure shows as <c>data: [ERROR] …</c> first.</summary>
    private static async IAsyncEnumerable<string> AsTokens(IAsyncEnumerable<ChatEvent> events, [EnumeratorCancellation] CancellationToken ct = default)
    {
        await foreach (var e in events.WithCancellation(ct))
        {
            switch (e)
            {
                case TextDelta text: yield return text.Content; break;
                case ChatFailed failed: yield return $"[ERROR] {failed.Code}: {failed.Message}"; break;
            }
        }
        yield return "[DONE]";
    }
}
