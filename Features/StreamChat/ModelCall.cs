using System.Diagnostics;
using System.Runtime.CompilerServices;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Telemetry;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.Connectors.OpenAI;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// One model call in flight (<see cref="RunModel.Start"/>): the request is sent when the call is made, and the reply
/// read later. Owns the first-token and whole-reply timeouts; the turn being cancelled (its client gone, the stop button)
/// or the service stopping cuts it short.
/// </summary>
public sealed class ModelCall : IAsyncDisposable
{
    private readonly CancellationTokenSource _upstream;
    private readonly CancellationToken _turnCancelled;
    private readonly CancellationToken _stopping;
    private readonly IDisposable _inFlight;
    private readonly AiSettings _settings;
    private readonly IAsyncEnumerator<StreamingChatMessageContent> _chunks;
    private readonly long _started = Stopwatch.GetTimestamp();
    private ValueTask<bool> _next;
    private bool _nextPending; // a ValueTask is awaited once: by the reader, or else by DisposeAsync
    private ModelCallTelemetry _telemetry;
    private ModelReply? _reply;

    internal ModelCall(IChatCompletionService service, ChatHistory prompt, OpenAIPromptExecutionSettings settings, AiSettings timeouts,
        CancellationToken stopping, IDisposable inFlight, CancellationToken turnCancelled, ModelCallTelemetry telemetry)
    {
        _telemetry = telemetry;
        _settings = timeouts;
        _stopping = stopping;
        _inFlight = inFlight;
        _turnCancelled = turnCancelled;
        _upstream = CancellationTokenSource.CreateLinkedTokenSource(turnCancelled, stopping);
        _upstream.CancelAfter(TimeSpan.FromSeconds(timeouts.FirstTokenTimeoutSeconds));
        _chunks = service.GetStreamingChatMessageContentsAsync(prompt, settings, cancellationToken: _upstream.Token).GetAsyncEnumerator(_upstream.Token);
        _next = _chunks.MoveNextAsync(); // the request goes out now
        _nextPending = true;
        _telemetry.Detach();
    }

    /// <summary>
    /// The reply's pieces as they arrive: its text, and the pieces of the tool calls it makes; how it ended is left in
    /// <paramref name="reply"/>.
    /// </summary>
    public async IAsyncEnumerable<ChatEvent> PiecesAsync(ModelReply reply)
    {
        _reply = reply;
        var firstText = true;
        while (true)
        {
            bool more;
            try
            {
                _nextPending = false;
                more = await _next;
            }
            catch (Exception e) when (!_turnCancelled.IsCancellationRequested)
            {
                reply.Failure = RunModel.Failure(e, _stopping.IsCancellationRequested, _upstream.IsCancellationRequested, firstText, _settings);
                End(reply);
                yield break;
            }
            if (!more)
            {
                // Every completion stream ends with a finish reason: none and no text is no completion at all (a 200
                // with an HTML page or a JSON object), not an empty reply.
                if (reply.FinishReason is null && reply.Text.Length == 0 && !reply.ToolCalls.Any)
                    reply.Failure = RunModel.Failure(new InvalidDataException("The provider's answer held no completion."), false, false, firstText, _settings);
                End(reply);
                yield break;
            }

            var chunk = _chunks.Current;
            _telemetry.Saw(chunk);
            reply.FinishReason = ModelReplyMetadata.FinishReasonOf(chunk.Metadata) ?? reply.FinishReason;
            reply.Usage = ModelReplyMetadata.UsageOf(chunk.Metadata) ?? reply.Usage;
            var text = chunk.Content;
            List<StreamingFunctionCallUpdateContent>? calls = null; // allocated only for a chunk that has some
            foreach (var item in chunk.Items)
                if (item is StreamingFunctionCallUpdateContent call) (calls ??= []).Add(call);
            if ((!string.IsNullOrEmpty(text) || calls is not null) && firstText)
            {
                firstText = false;
                var left = TimeSpan.FromSeconds(_settings.ReplyTimeoutSeconds) - Stopwatch.GetElapsedTime(_started);
                _upstream.CancelAfter(left > TimeSpan.Zero ? left : TimeSpan.Zero); // a first token later than the whole reply's timeout
            }
            _next = _chunks.MoveNextAsync();
            _nextPending = true;
            if (!string.IsNullOrEmpty(text))
            {
                reply.Text.Append(text);
                yield return new TextDelta(text);
            }
            if (calls is null) continue; // `calls ?? []` would allocate an empty list for every text chunk
            foreach (var call in calls)
            {
                var piece = new ToolCallDelta(call.FunctionCallIndex, call.CallId, call.Name, call.Arguments ?? "");
                reply.ToolCalls.Add(piece);
                yield return piece;
            }
        }
    }

    private void End(ModelReply reply) =>
        _telemetry.End(reply.FinishReason, reply.Usage, reply.Failure?.Code, reply.Text);

    public async ValueTask DisposeAsync()
    {
        // A call disposed before its reply ended was cut short by its turn.
        _telemetry.End(_reply?.FinishReason, null, ModelCallTelemetry.Cancelled, _reply?.Text);
        await _upstream.CancelAsync();
        if (_nextPending)
        {
            _nextPending = false;
            try
            {
                await _next;
            }
            catch (Exception)
            {
                // Cut short by the cancel above: nobody reads this reply any more.
            }
        }
        await _chunks.DisposeAsync();
        _upstream.Dispose();
        _inFlight.Dispose();
    }
}
