using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using ChatSlices.Infrastructure.AI;
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

    /// <summary>The provider's usage, or our estimate (flagged) when it reported none.</summary>
    public TokenCount Count(ChatHistory prompt) => Usage is { } usage
        ? new TokenCount(usage.Input, usage.Output, Estimated: false)
        : new TokenCount(prompt.Sum(m => TokenEstimator.CountMessage(m.Content)), TokenEstimator.Count(Text.ToString()), Estimated: true);
}

/// <summary>
/// Step 6 of a chat turn: the model's reply through Semantic Kernel, text streamed as it arrives. Owns the first-token
/// and whole-reply timeouts, maps provider failures to stable codes, and cuts the call short when the client leaves
/// (the token is the request's) or the service stops.
/// </summary>
public sealed class RunModel(ModelProviders providers, IOptions<AiSettings> ai, IHostApplicationLifetime lifetime)
{
    public static readonly ChatFailed ShuttingDown = new("shutting_down", "The service is restarting; the reply so far is kept. Retry the request.")
    {
        HttpStatus = StatusCodes.Status503ServiceUnavailable,
    };

    /// <summary>
    /// The reply's text pieces; how it ended is left in <paramref name="reply"/>. <paramref name="beforeFirstText"/> is
    /// awaited before the first piece is given out (the user's turn must be stored first); a failure from it ends the reply.
    /// </summary>
    public async IAsyncEnumerable<string> StreamAsync(ModelSpec model, ChatHistory prompt, OpenAIPromptExecutionSettings settings,
        ModelReply reply, Task<ChatFailed?> beforeFirstText, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var timeouts = ai.Value;
        using var upstream = CancellationTokenSource.CreateLinkedTokenSource(ct, lifetime.ApplicationStopping);
        upstream.CancelAfter(TimeSpan.FromSeconds(timeouts.FirstTokenTimeoutSeconds));
        var started = Stopwatch.GetTimestamp();
        var firstText = true;
        await using var chunks = providers.ChatService(model)
            .GetStreamingChatMessageContentsAsync(prompt, settings, cancellationToken: upstream.Token).GetAsyncEnumerator(upstream.Token);
        while (true)
        {
            bool more;
            try
            {
                more = await chunks.MoveNextAsync();
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                reply.Failure = lifetime.ApplicationStopping.IsCancellationRequested
                    ? ShuttingDown
                    : ProviderFailure(e, upstream.IsCancellationRequested, firstText, timeouts);
                yield break;
            }
            if (!more) yield break;

            var chunk = chunks.Current;
            reply.FinishReason = ModelReplyMetadata.FinishReasonOf(chunk.Metadata) ?? reply.FinishReason;
            reply.Usage = ModelReplyMetadata.UsageOf(chunk.Metadata) ?? reply.Usage;
            var text = chunk.Content;
            if (string.IsNullOrEmpty(text)) continue;
            if (firstText)
            {
                firstText = false;
                if (await beforeFirstText is { } failed) { reply.Failure = failed; yield break; }
                var left = TimeSpan.FromSeconds(timeouts.ReplyTimeoutSeconds) - Stopwatch.GetElapsedTime(started);
                upstream.CancelAfter(left > TimeSpan.Zero ? left : TimeSpan.Zero); // a first token later than the whole reply's timeout
            }
            reply.Text.Append(text);
            yield return text;
        }
    }

    /// <summary>The whole reply at once, with the same timeouts and failures (for callers that do not stream).</summary>
    public async Task<ModelReply> CompleteAsync(ModelSpec model, ChatHistory prompt, OpenAIPromptExecutionSettings settings, CancellationToken ct)
    {
        var reply = new ModelReply();
        await foreach (var _ in StreamAsync(model, prompt, settings, reply, Task.FromResult<ChatFailed?>(null), ct)) { }
        return reply;
    }

    private static ChatFailed ProviderFailure(Exception e, bool timedOut, bool beforeFirstText, AiSettings settings)
    {
        var error = timedOut
            ? beforeFirstText ? ProviderError.FirstTokenTimeout(settings.FirstTokenTimeoutSeconds) : ProviderError.ReplyTimeout(settings.ReplyTimeoutSeconds)
            : ProviderError.From(e);
        return new ChatFailed(error.Code, error.Message) { HttpStatus = error.HttpStatus };
    }
}
