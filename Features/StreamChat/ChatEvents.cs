using System.Text.Json.Serialization;
using ChatSlices.Infrastructure.Errors;

namespace ChatSlices.Features.StreamChat;

/// <summary>What the chat pipeline produces; every door (SSE, NDJSON, tokens, OpenAI chunks, one JSON body) formats these.</summary>
public abstract record ChatEvent
{
    [JsonIgnore] public abstract string Type { get; }
}

public sealed record SessionStarted(Guid SessionId, Guid MessageId, Guid UserMessageId, string Model, Guid? AssistantId) : ChatEvent
{
    [JsonIgnore] public override string Type => "session";
}

public sealed record Citation(Guid DocumentId, string Title, int Page, Guid? ChunkId, double Score, string Snippet, string Source);

public sealed record SourcesFound(IReadOnlyList<Citation> Sources) : ChatEvent
{
    [JsonIgnore] public override string Type => "sources";
}

public sealed record TextDelta(string Content) : ChatEvent
{
    [JsonIgnore] public override string Type => "text";
}

/// <summary>
/// A piece of a tool call the model makes, as it streams it: the first piece of a call (by <paramref name="Index"/>) carries its
/// id and function name, every piece a fragment of the arguments (JSON text) to append.
/// </summary>
public sealed record ToolCallDelta(int Index, string? Id, string? Name, string Arguments) : ChatEvent
{
    [JsonIgnore] public override string Type => "tool_call";
}

public sealed record UsageReported(int PromptTokens, int CompletionTokens, int TotalTokens, decimal Cost, bool Estimated) : ChatEvent
{
    [JsonIgnore] public override string Type => "usage";
}

public sealed record ChatFailed(string Code, string Message) : ChatEvent
{
    [JsonIgnore] public int HttpStatus { get; init; } = StatusCodes.Status502BadGateway;
    [JsonIgnore] public int? RetryAfterSeconds { get; init; }

    public static ChatFailed From(Failure failure) =>
        new(failure.Code ?? "error", failure.Detail) { HttpStatus = failure.Status, RetryAfterSeconds = failure.RetryAfterSeconds };

    public Failure ToFailure() => new(HttpStatus, Message, Code) { RetryAfterSeconds = RetryAfterSeconds };

    [JsonIgnore] public override string Type => "error";
}

public sealed record Done(bool Completed, Guid SessionId, Guid MessageId, string? FinishReason, bool Cached,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Similarity = null) : ChatEvent
{
    [JsonIgnore] public override string Type => "done";
}

/// <summary>
/// A chat turn that passed every check and is ready to stream. Once opened (<see cref="OpenAsync"/>) it has started:
/// a door that cannot read its events (the client left before the first byte) disposes it, which ends the turn as a
/// client that leaves mid-stream does.
/// </summary>
public sealed record ChatRun(Guid SessionId, Guid MessageId, string Model, Guid? AssistantId, IAsyncEnumerable<ChatEvent> Events) : IAsyncDisposable
{
    /// <summary>The started turn's events, until they are read or the run is disposed (whichever comes first takes them).</summary>
    private sealed class Started(IAsyncEnumerator<ChatEvent> events)
    {
        private IAsyncEnumerator<ChatEvent>? _events = events;

        public IAsyncEnumerator<ChatEvent>? Take() => Interlocked.Exchange(ref _events, null);
    }

    private Started? Opened { get; init; }

    /// <summary>
    /// Runs the turn up to its first event: the turn started (its events from that one on), or the failure that kept it
    /// from starting (over quota, not stored), for the door to answer with an HTTP error before its first byte.
    /// </summary>
    public async Task<Outcome<ChatRun>> OpenAsync(CancellationToken ct)
    {
        var events = Events.GetAsyncEnumerator(ct);
        if (!await events.MoveNextAsync()) throw new InvalidOperationException("The chat run ended before it started.");
        if (events.Current is ChatFailed notStarted)
        {
            await events.DisposeAsync();
            return notStarted.ToFailure();
        }
        var started = new Started(events);
        return this with { Events = FromFirst(started), Opened = started };
    }

    private static async IAsyncEnumerable<ChatEvent> FromFirst(Started started)
    {
        var events = started.Take() ?? throw new InvalidOperationException("A chat run's events are read once.");
        try
        {
            do yield return events.Current;
            while (await events.MoveNextAsync());
        }
        finally
        {
            await events.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Opened?.Take() is { } unread) await unread.DisposeAsync();
    }
}

/// <summary>A whole run read to its end, for the doors that answer with one JSON body.</summary>
public sealed record ChatTranscript(SessionStarted Session, IReadOnlyList<Citation> Sources, string Text,
    UsageReported? Usage, Done Done, ChatFailed? Failure, IReadOnlyList<ToolCall>? ToolCalls)
{
    public static async Task<ChatTranscript> CollectAsync(IAsyncEnumerable<ChatEvent> events, CancellationToken ct)
    {
        SessionStarted? session = null;
        IReadOnlyList<Citation> sources = [];
        var text = new System.Text.StringBuilder();
        UsageReported? usage = null;
        ChatFailed? failure = null;
        var calls = new ToolCallBuilder();
        await foreach (var e in events.WithCancellation(ct))
        {
            switch (e)
            {
                case SessionStarted s: session = s; break;
                case SourcesFound s: sources = s.Sources; break;
                case TextDelta t: text.Append(t.Content); break;
                case ToolCallDelta call: calls.Add(call); break;
                case UsageReported u: usage = u; break;
                case ChatFailed f: failure = f; break;
                case Done d: return new ChatTranscript(session!, sources, text.ToString(), usage, d, failure, calls.Any ? calls.Calls : null);
            }
        }
        throw new InvalidOperationException("The chat run ended without a done event.");
    }
}
