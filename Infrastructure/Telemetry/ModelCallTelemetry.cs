using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using OpenAI.Chat;

namespace ChatSlices.Infrastructure.Telemetry;

/// <summary>
/// The <c>chat {model}</c> span (GenAI conventions) and the GenAI client metrics of one model call: started with the
/// call, ended once, by the end of its reply or by its disposal. Held by value in the call; nothing per chunk but a
/// null check until the response's model is known.
/// </summary>
public struct ModelCallTelemetry
{
    /// <summary>The <c>error.type</c> of a call cut short by its turn (the client left, the stop button) before it ended.</summary>
    public const string Cancelled = "cancelled";

    private readonly ChatMetrics _metrics;
    private readonly Activity? _activity;
    private readonly string _provider;
    private readonly string _model;
    private readonly long _started;
    private readonly bool _recordContent;
    private string? _responseModel;
    private bool _ended;

    /// <summary>Starts the span as the current one, so that the HTTP request sent next is its child (and carries its trace).</summary>
    public ModelCallTelemetry(ChatMetrics metrics, string provider, string model, ChatHistory prompt, PromptExecutionSettings settings, bool recordContent)
    {
        _metrics = metrics;
        _provider = provider;
        _model = model;
        _recordContent = recordContent;
        _started = Stopwatch.GetTimestamp();
        _activity = ChatTelemetry.Source.StartActivity($"{ChatTelemetry.Chat} {model}", ActivityKind.Client);
        if (_activity is null) return;
        _activity.SetTag(ChatTelemetry.OperationName, ChatTelemetry.Chat);
        _activity.SetTag(ChatTelemetry.ProviderName, provider);
        _activity.SetTag(ChatTelemetry.RequestModel, model);
        if (settings is Microsoft.SemanticKernel.Connectors.OpenAI.OpenAIPromptExecutionSettings openAi)
        {
            if (openAi.MaxTokens is { } max) _activity.SetTag(ChatTelemetry.RequestMaxTokens, max);
            if (openAi.Temperature is { } temperature) _activity.SetTag(ChatTelemetry.RequestTemperature, temperature);
        }
        if (recordContent) _activity.SetTag(ChatTelemetry.InputMessages, Messages(prompt.Select(m => (m.Role.Label, m.Content ?? ""))));
    }

    /// <summary>Makes the span's parent current again: the call goes on in the background of whoever started it.</summary>
    public readonly void Detach()
    {
        if (_activity is not null) Activity.Current = _activity.Parent;
    }

    private readonly bool Listening => _activity is not null || _metrics.ClientEnabled;

    public void Saw(StreamingChatMessageContent chunk)
    {
        if (_responseModel is null && Listening)
            _responseModel = chunk.InnerContent is StreamingChatCompletionUpdate update && !string.IsNullOrEmpty(update.Model) ? update.Model : chunk.ModelId;
    }

    /// <param name="usage">The tokens the provider reported (none: no token metrics, as the conventions ask, rather than a guess).</param>
    /// <param name="errorType">Why the call failed (its failure code), <c>cancelled</c> when it was cut short, or null.</param>
    public void End(string? finishReason, (int Input, int Output)? usage, string? errorType, StringBuilder? reply)
    {
        if (_ended) return;
        _ended = true;
        _metrics.ModelCallEnded(_provider, _model, _responseModel, Stopwatch.GetElapsedTime(_started), usage?.Input, usage?.Output, errorType);
        if (_activity is null) return;
        if (_responseModel is not null) _activity.SetTag(ChatTelemetry.ResponseModel, _responseModel);
        if (usage is { } used)
        {
            _activity.SetTag(ChatTelemetry.InputTokens, used.Input);
            _activity.SetTag(ChatTelemetry.OutputTokens, used.Output);
        }
        if (finishReason is not null) _activity.SetTag(ChatTelemetry.FinishReasons, new[] { finishReason });
        if (_recordContent) _activity.SetTag(ChatTelemetry.OutputMessages, Messages([("assistant", reply?.ToString() ?? "")]));
        if (errorType == Cancelled) _activity.SetTag(ChatTelemetry.ErrorType, errorType); // the caller's choice, not a failure
        else if (errorType is not null) _activity.Failed(errorType);
        _activity.Dispose();
    }

    /// <summary>Messages as the GenAI conventions write them: role and text parts, as JSON.</summary>
    private static string Messages(IEnumerable<(string Role, string Text)> messages) =>
        JsonSerializer.Serialize(messages.Select(m => new { role = m.Role, parts = new[] { new { type = "text", content = m.Text } } }));
}
