using System.Runtime.CompilerServices;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.RateLimiting;
using MediatR;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// POST /v1/chat/completions: the OpenAI Chat Completions wire format over the same chat pipeline, so any OpenAI SDK
/// can talk to the service. Each call is stored in <c>session_id</c>'s session, or a new one.
/// </summary>
public static class ChatCompletions
{
    public sealed record StreamOptions(bool? IncludeUsage);

    public sealed record Request(
        string? Model, List<ChatTurn>? Messages, double? Temperature, int? MaxTokens, int? MaxCompletionTokens,
        bool? Stream, StreamOptions? StreamOptions, Guid? SessionId, Guid? AssistantId,
        double? TopP, JsonElement? Stop, long? Seed, double? PresencePenalty, double? FrequencyPenalty,
        Dictionary<string, int>? LogitBias, ResponseFormat? ResponseFormat, int? N, string? User,
        JsonElement? Tools, JsonElement? ToolChoice, bool? ParallelToolCalls);

    public sealed record Usage(int PromptTokens, int CompletionTokens, int TotalTokens);

    /// <summary>The reply; <c>content</c> is null when the model only called tools, as OpenAI answers then.</summary>
    public sealed record Message(string Role, string? Content,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<ToolCall>? ToolCalls = null);

    public sealed record Choice(int Index, Message Message, string? FinishReason);

    public sealed record Completion(string Id, string Object, long Created, string Model, IReadOnlyList<Choice> Choices, Usage? Usage, Guid SessionId);

    public sealed record Delta(string? Role = null, string? Content = null,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<ToolCallChunk>? ToolCalls = null);

    /// <summary>A piece of a tool call in a chunk, as OpenAI streams it: id, type and name on a call's first piece only.</summary>
    public sealed record ToolCallChunk(int Index,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Id,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Type,
        FunctionChunk Function);

    public sealed record FunctionChunk([property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Name, string Arguments);

    public sealed record ChunkChoice(int Index, Delta Delta, string? FinishReason);

    public sealed record Chunk(string Id, string Object, long Created, string Model, IReadOnlyList<ChunkChoice> Choices, Usage? Usage, Guid SessionId);

    public sealed record ErrorBody(string Message, string Type, string Code);

    /// <summary>A failure after the stream started, as OpenAI's streams report one.</summary>
    public sealed record ErrorChunk(ErrorBody Error);

    /// <summary>Mapped on <see cref="StreamChat"/>'s <c>/v1/chat</c> group.</summary>
    public static void Map(RouteGroupBuilder chat) =>
        chat.MapPost("/completions", Endpoint)
            .WithName("CreateChatCompletion")
            .WithSummary("OpenAI-compatible chat completions (stream or not), stored in a session")
            .WithMetadata(new OpenAiErrorFormat(), new ModelCallRoute())
            .Accepts<Request>("application/json")
            .Produces<Completion>(StatusCodes.Status200OK)
            .Produces(StatusCodes.Status200OK, contentType: EventStream.SseContentType);

    private static async Task<IResult> Endpoint(HttpContext http, ClaimsPrincipal user, IMediator mediator,
        IOptions<JsonOptions> json, IOptions<ChatSettings> settings, CancellationToken ct)
    {
        // Read by hand so that malformed JSON, too, is answered in OpenAI's error shape.
        if (!http.Request.HasJsonContentType())
            return TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, detail: "Send the body as application/json.");
        Request? request;
        try
        {
            request = await http.Request.ReadFromJsonAsync<Request>(json.Value.SerializerOptions, ct);
        }
        catch (JsonException e)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, detail: $"The request body is not valid JSON ({e.Path ?? "$"}).");
        }
        if (request is null) return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, detail: "The request body is empty.");

        var body = new ChatRequest(Messages: request.Messages ?? [], SessionId: request.SessionId, AssistantId: request.AssistantId,
            Model: request.Model, Temperature: request.Temperature, MaxTokens: request.MaxTokens ?? request.MaxCompletionTokens,
            TopP: request.TopP, Stop: request.Stop, Seed: request.Seed, PresencePenalty: request.PresencePenalty,
            FrequencyPenalty: request.FrequencyPenalty, LogitBias: request.LogitBias, ResponseFormat: request.ResponseFormat,
            N: request.N, User: request.User, Tools: request.Tools, ToolChoice: request.ToolChoice, ParallelToolCalls: request.ParallelToolCalls) { TitleByModel = false };
        var outcome = await mediator.Send(new StreamChat.Command(body, user, Caller.Of(http)), ct);
        if (outcome.Failure is { } failure) return failure.ToResult();
        await using var run = outcome.Value!;
        var id = "chatcmpl-" + run.MessageId.ToString("N");
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        if (request.Stream != true)
        {
            var transcript = await ChatTranscript.CollectAsync(run.Events, ct);
            if (transcript.Failure is { } failed)
                return TypedResults.Problem(statusCode: failed.HttpStatus, detail: failed.Message, extensions: new Dictionary<string, object?> { ["code"] = failed.Code });
            var usage = transcript.Usage is { } u ? new Usage(u.PromptTokens, u.CompletionTokens, u.TotalTokens) : null;
            return TypedResults.Ok(new Completion(id, "chat.completion", created, run.Model,
                [new Choice(0, new Message("assistant", transcript.ToolCalls is not null && transcript.Text.Length == 0 ? null : transcript.Text, transcript.ToolCalls),
                    transcript.Done.FinishReason)], usage, run.SessionId));
        }

        var chunks = AsChunks(run, id, created, request.StreamOptions?.IncludeUsage == true);
        await EventStream.WriteDataAsync(http, WithDone(chunks),
            TimeSpan.FromSeconds(settings.Value.HeartbeatSeconds), TimeSpan.FromSeconds(settings.Value.StreamWriteTimeoutSeconds));
        return Results.Empty;
    }

    private static async IAsyncEnumerable<object> AsChunks(ChatRun run, string id, long created, bool includeUsage, [EnumeratorCancellation] CancellationToken ct = default)
    {
        Chunk Make(Delta delta, string? finish = null) => new(id, "chat.completion.chunk", created, run.Model, [new ChunkChoice(0, delta, finish)], null, run.SessionId);

        yield return Make(new Delta(Role: "assistant", Content: ""));
        UsageReported? usage = null;
        await foreach (var e in run.Events.WithCancellation(ct))
        {
            switch (e)
            {
                case TextDelta text:
                    yield return Make(new Delta(Content: text.Content));
                    break;
                case ToolCallDelta call:
                    yield return Make(new Delta(ToolCalls: [new ToolCallChunk(call.Index, call.Id, call.Id is null ? null : "function", new FunctionChunk(call.Name, call.Arguments))]));
                    break;
                case UsageReported reported:
                    usage = reported;
                    break;
                case ChatFailed failed:
                    yield return new ErrorChunk(new ErrorBody(failed.Message, OpenAiErrorWriter.Type(failed.HttpStatus), failed.Code));
                    break;
                case Done { Completed: true } done:
                    yield return Make(new Delta(), done.FinishReason ?? "stop");
                    if (includeUsage && usage is not null) // OpenAI sends usage last, in a chunk without choices
                        yield return new Chunk(id, "chat.completion.chunk", created, run.Model, [],
                            new Usage(usage.PromptTokens, usage.CompletionTokens, usage.TotalTokens), run.SessionId);
                    break;
            }
        }
    }

    private static async IAsyncEnumerable<object> WithDone(IAsyncEnumerable<object> chunks, [EnumeratorCancellation] CancellationToken ct = default)
    {
        await foreach (var chunk in chunks.WithCancellation(ct)) yield return chunk;
        yield return "[DONE]";
    }
}
