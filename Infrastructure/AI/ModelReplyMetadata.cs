using OpenAI.Chat;

namespace ChatSlices.Infrastructure.AI;

/// <summary>
/// What a streamed Semantic Kernel chunk says besides its text, read the same way for every provider: SK's OpenAI
/// connector puts the finish reason (the SDK's enum name) and the usage (<see cref="ChatTokenUsage"/>) in each
/// chunk's metadata; the offline model uses the same keys.
/// </summary>
public static class ModelReplyMetadata
{
    public const string FinishReason = "FinishReason";
    public const string Usage = "Usage";

    /// <summary>The OpenAI wire name (<c>stop</c>, <c>length</c>, <c>content_filter</c>, <c>tool_calls</c>), or null while the reply goes on.</summary>
    public static string? FinishReasonOf(IReadOnlyDictionary<string, object?>? metadata) =>
        metadata?.GetValueOrDefault(FinishReason)?.ToString() switch
        {
            null or "" => null,
            "Stop" => "stop",
            "Length" => "length",
            "ContentFilter" => "content_filter",
            "ToolCalls" or "FunctionCall" => "tool_calls",
            var other => other.ToLowerInvariant(),
        };

    public static (int Input, int Output)? UsageOf(IReadOnlyDictionary<string, object?>? metadata) =>
        metadata?.GetValueOrDefault(Usage) is ChatTokenUsage usage ? (usage.InputTokenCount, usage.OutputTokenCount) : null;
}
