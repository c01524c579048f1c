using System.Diagnostics;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Telemetry;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// A turn's GenAI server metrics, read off its events as they pass: from its start, the model's first and last text,
/// the output tokens it reported and how it ended. Recorded once, when the turn is over; nothing when nobody listens.
/// </summary>
internal struct TurnTiming(ChatMetrics metrics)
{
    private readonly bool _listening = metrics.ServerEnabled;
    private readonly long _started = Stopwatch.GetTimestamp();
    private long _firstText;
    private long _lastText;
    private int _outputTokens;
    private bool _cached;
    private bool _completed;
    private string? _failure;

    public void Saw(ChatEvent e)
    {
        if (!_listening) return;
        switch (e)
        {
            case TextDelta or ToolCallDelta:
                _lastText = Stopwatch.GetTimestamp();
                if (_firstText == 0) _firstText = _lastText;
                break;
            case UsageReported usage: _outputTokens = usage.CompletionTokens; break;
            case ChatFailed failed: _failure = failed.Code; break;
            case Done done: (_cached, _completed) = (done.Cached, done.Completed); break;
        }
    }

    /// <summary>A turn without <c>done</c> was cut short (its client left, the stop button).</summary>
    public readonly void End(ModelSpec model)
    {
        if (!_listening) return;
        var fromModel = _firstText != 0 && !_cached; // a cache replay has no first token of a model
        metrics.TurnEnded(metrics.ProviderOf(model), model.Id, Stopwatch.GetElapsedTime(_started),
            fromModel ? Stopwatch.GetElapsedTime(_started, _firstText) : null,
            fromModel ? Stopwatch.GetElapsedTime(_started, _lastText) : null,
            _outputTokens, _failure ?? (_completed ? null : ModelCallTelemetry.Cancelled));
    }
}
