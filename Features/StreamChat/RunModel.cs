using System.Text;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Health;
using ChatSlices.Infrastructure.Telemetry;
using Microsoft.Extensions.Options;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.Connectors.OpenAI;

namespace ChatSlices.Features.StreamChat;

public readonly record struct TokenCount(int Prompt, int Completion, bool Estimated);

/// <summary>The reply as the model gave it so far: its text, how it ended, the usage it reported, or why it failed.</summary>
public sealed class ModelReply
{
    public StringBuilder Text { get; } = new();
    public string? FinishReason { get; set; }
    public (int Input, int Output)? Usage { get; set; }
    public ChatFailed? Failure { get; set; }
    public ToolCallBuilder ToolCalls { get; } = new();

    /// <summary>The provider's usage, or our count in the model's tokenizer (flagged as estimated) when it reported none.</summary>
    public TokenCount Count(ChatHistory prompt, TokenCounter tokens) => Usage is { } usage
        ? new TokenCount(usage.Input, usage.Output, Estimated: false)
        : new TokenCount(prompt.Sum(m => tokens.CountMessage(m.Content)), tokens.Count(Text.ToString()), Estimated: true);
}

/// <summary>
/// Step 6 of a chat turn: the model's reply through Semantic Kernel, sent as a <see cref="ModelCall"/> (which owns the
/// timeouts and reads the text as it arrives); provider failures mapped to stable codes.
/// </summary>
public sealed class RunModel(ModelProviders providers, IOptions<AiSettings> ai, Drain drain, ChatMetrics metrics,
    IOptions<TelemetrySettings> telemetry)
{
    public static readonly ChatFailed ShuttingDown = new("shutting_down", "The service is restarting; the reply so far is kept. Retry the request.")
    {
        HttpStatus = StatusCodes.Status503ServiceUnavailable,
    };

    /// <summary>
    /// Sends the request now (the caller may still be storing the turn while the model thinks); the reply is read with
    /// <see cref="ModelCall.PiecesAsync"/>. Disposing the call cancels the request if it is still running.
    /// </summary>
    public ModelCall Start(ModelSpec model, ChatHistory prompt, OpenAIPromptExecutionSettings settings, CancellationToken ct) =>
        new(providers.ChatService(model), prompt, settings, ai.Value, drain.Stopping, drain.Hold(), ct,
            new ModelCallTelemetry(metrics, metrics.ProviderOf(model), model.ProviderModel ?? model.Id, prompt, settings, telemetry.Value.RecordContent));

    /// <summary>The whole reply at once, with the same timeouts and failures (for callers that do not stream).</summary>
    public async Task<ModelReply> CompleteAsync(ModelSpec model, ChatHistory prompt, OpenAIPromptExecutionSettings settings, CancellationToken ct)
    {
        var reply = new ModelReply();
        await using var call = Start(model, prompt, settings, ct);
        await foreach (var _ in call.PiecesAsync(reply)) { }
        return reply;
    }

    internal static ChatFailed Failure(Exception e, bool stopping, bool timedOut, bool beforeFirstText, AiSettings settings) =>
        stopping ? ShuttingDown : ProviderFailure(e, timedOut, beforeFirstText, settings);

    private static ChatFailed ProviderFailure(Exception e, bool timedOut, bool beforeFirstText, AiSettings settings)
    {
        var error = timedOut
            ? beforeFirstText ? ProviderError.FirstTokenTimeout(settings.FirstTokenTimeoutSeconds) : ProviderError.ReplyTimeout(settings.ReplyTimeoutSeconds)
            : ProviderError.From(e);
        return new ChatFailed(error.Code, error.Message) { HttpStatus = error.HttpStatus };
    }
}
