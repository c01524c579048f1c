using System.Text;

namespace ChatSlices.LoadBench;

/// <summary>How a turn is sent.</summary>
public enum TurnKind
{
    /// <summary><c>POST /v1/chat/stream</c>, Server-Sent Events.</summary>
    Stream,
    /// <summary><c>POST /v1/chat/completions</c> with <c>stream: true</c>.</summary>
    CompletionsStream,
    /// <summary><c>POST /v1/chat/completions</c>, one JSON body.</summary>
    Completions,
    /// <summary><c>POST /v1/chat/sessions/{id}/messages</c> with an <c>Idempotency-Key</c>.</summary>
    Messages,
}

public static class TurnKinds
{
    public static string Label(this TurnKind kind) => kind switch
    {
        TurnKind.Stream => "`/v1/chat/stream` (SSE)",
        TurnKind.CompletionsStream => "`/v1/chat/completions`, streamed",
        TurnKind.Completions => "`/v1/chat/completions`, one body",
        _ => "`/v1/chat/sessions/{id}/messages`",
    };

    public static bool Streams(this TurnKind kind) => kind is TurnKind.Stream or TurnKind.CompletionsStream;
}

/// <summary>One turn as the client sent and saw it.</summary>
public sealed class Turn(string userId, int index, TurnKind kind, string content, int? abortAfterChunks, bool retry)
{
    public string UserId { get; } = userId;
    public int Index { get; } = index;
    public TurnKind Kind { get; } = kind;

    /// <summary>The user turn's text, unique over the whole run.</summary>
    public string Content { get; } = content;

    /// <summary>The client goes away after this many text chunks (streamed turns only).</summary>
    public int? AbortAfterChunks { get; } = abortAfterChunks;

    /// <summary>A non-streaming turn sent a second time with the same Idempotency-Key.</summary>
    public bool Retry { get; } = retry;

    /// <summary>True once the request was written: from then on the user turn may be stored.</summary>
    public bool Sent { get; set; }
    public Guid? MessageId { get; set; }
    public StringBuilder Received { get; } = new();
    public int TextChunks { get; set; }

    /// <summary>The reply ended well as the client saw it (<c>done {completed: true}</c>, a finish chunk and <c>[DONE]</c>, or a 2xx body).</summary>
    public bool Completed { get; set; }
    public bool Aborted { get; set; }

    /// <summary>When the client went away (<see cref="System.Diagnostics.Stopwatch"/> ticks, the fake's clock too).</summary>
    public long AbortedAt { get; set; }
    public int? PromptTokens { get; set; }
    public int? CompletionTokens { get; set; }
    public string? Error { get; set; }

    /// <summary>The retry's answer named the same reply with the same text.</summary>
    public bool? RetryMatched { get; set; }
    public double LatencyMs { get; set; }
    public double? FirstTextMs { get; set; }
}
