using System.Diagnostics;
using System.Diagnostics.Metrics;
using ChatSlices.Infrastructure.AI;
using Microsoft.Extensions.Options;

namespace ChatSlices.Infrastructure.Telemetry;

/// <summary>
/// The service's metrics: the OpenTelemetry GenAI client and server histograms (with the buckets the conventions give)
/// and its own <c>chatslices.*</c> counters. Every record takes its tags as a <see cref="TagList"/> (no allocation) and
/// returns at once when no reader listens to that instrument.
/// </summary>
public sealed class ChatMetrics
{
    private static readonly double[] DurationBuckets = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
    private static readonly long[] TokenBuckets = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
    private static readonly double[] FirstTokenBuckets = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
    private static readonly double[] OutputTokenBuckets = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5];

    private readonly string _defaultProvider;
    private readonly Histogram<long> _tokenUsage;
    private readonly Histogram<double> _operationDuration;
    private readonly Histogram<double> _requestDuration;
    private readonly Histogram<double> _timeToFirstToken;
    private readonly Histogram<double> _timePerOutputToken;
    private readonly UpDownCounter<long> _openStreams;
    private readonly Counter<long> _disconnects;
    private readonly Counter<long> _resumes;
    private readonly Counter<long> _cacheLookups;
    private readonly Counter<long> _refusals;
    private readonly Counter<long> _uploadBytes;
    private readonly Counter<long> _uploadPages;

    public ChatMetrics(IMeterFactory meters, IOptions<AiSettings> ai)
    {
        _defaultProvider = ai.Value.Provider;
        var meter = meters.Create(ChatTelemetry.Name);
        _tokenUsage = meter.CreateHistogram("gen_ai.client.token.usage", "{token}", "Tokens used by a model call, by token type.",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = TokenBuckets });
        _operationDuration = meter.CreateHistogram("gen_ai.client.operation.duration", "s", "Duration of a model call, request to last chunk.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _requestDuration = meter.CreateHistogram("gen_ai.server.request.duration", "s", "Duration of a chat turn, its start to its last event.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _timeToFirstToken = meter.CreateHistogram("gen_ai.server.time_to_first_token", "s", "A chat turn's start to the model's first text.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = FirstTokenBuckets });
        _timePerOutputToken = meter.CreateHistogram("gen_ai.server.time_per_output_token", "s", "A complete reply's time per output token after the first.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = OutputTokenBuckets });
        _openStreams = meter.CreateUpDownCounter<long>("chatslices.streams.open", "{stream}", "Event streams being written to clients.");
        _disconnects = meter.CreateCounter<long>("chatslices.streams.disconnects", "{stream}", "Event streams whose client left (or took nothing) before the end.");
        _resumes = meter.CreateCounter<long>("chatslices.streams.resumes", "{stream}", "Event streams read again after Last-Event-ID.");
        _cacheLookups = meter.CreateCounter<long>("chatslices.semantic_cache.lookups", "{lookup}", "Semantic cache lookups, by result (hit, miss).");
        _refusals = meter.CreateCounter<long>("chatslices.refusals", "{request}", "Requests refused by a rate limit or a daily quota, by reason and tier.");
        _uploadBytes = meter.CreateCounter<long>("chatslices.uploads.size", "By", "Bytes of PDFs whose text was extracted.");
        _uploadPages = meter.CreateCounter<long>("chatslices.uploads.pages", "{page}", "Pages of PDFs whose text was extracted.");
    }

    public string ProviderOf(ModelSpec model) => model.Provider ?? _defaultProvider;

    public bool ClientEnabled => _operationDuration.Enabled || _tokenUsage.Enabled;

    public bool ServerEnabled => _requestDuration.Enabled || _timeToFirstToken.Enabled || _timePerOutputToken.Enabled;

    /// <summary>A model call ended: its duration and, when known, the tokens it used.</summary>
    public void ModelCallEnded(string provider, string requestModel, string? responseModel, TimeSpan duration, int? inputTokens, int? outputTokens, string? errorType)
    {
        var tags = GenAiTags(provider, requestModel, responseModel, errorType);
        if (_operationDuration.Enabled) _operationDuration.Record(duration.TotalSeconds, tags);
        if (!_tokenUsage.Enabled || errorType is not null) return;
        if (inputTokens is { } input)
        {
            var inputTags = tags;
            inputTags.Add(ChatTelemetry.TokenType, "input");
            _tokenUsage.Record(input, inputTags);
        }
        if (outputTokens is { } output)
        {
            tags.Add(ChatTelemetry.TokenType, "output");
            _tokenUsage.Record(output, tags);
        }
    }

    /// <summary>
    /// A chat turn ended. Time to first token and per output token are the model's (a cache replay has neither); per
    /// output token only for a complete reply of more than one token.
    /// </summary>
    public void TurnEnded(string provider, string model, TimeSpan duration, TimeSpan? firstText, TimeSpan? lastText, int outputTokens, string? errorType)
    {
        var tags = GenAiTags(provider, model, null, errorType);
        if (_requestDuration.Enabled) _requestDuration.Record(duration.TotalSeconds, tags);
        if (firstText is not { } first) return;
        if (_timeToFirstToken.Enabled) _timeToFirstToken.Record(first.TotalSeconds, tags);
        if (_timePerOutputToken.Enabled && errorType is null && outputTokens > 1 && lastText is { } last)
            _timePerOutputToken.Record((last - first).TotalSeconds / (outputTokens - 1), tags);
    }

    public void StreamOpened() => _openStreams.Add(1);

    public void StreamClosed(bool disconnected)
    {
        _openStreams.Add(-1);
        if (disconnected) _disconnects.Add(1);
    }

    public void StreamResumed() => _resumes.Add(1);

    public void CacheLookup(bool hit) => _cacheLookups.Add(1, new KeyValuePair<string, object?>("chatslices.cache.result", hit ? "hit" : "miss"));

    /// <param name="reason">The refusal's problem code (<c>rate_limited</c>, <c>token_quota_exceeded</c>, <c>upload_quota_exceeded</c>).</param>
    public void Refused(string reason, string tier) =>
        _refusals.Add(1, new KeyValuePair<string, object?>("chatslices.refusal.reason", reason), new KeyValuePair<string, object?>("chatslices.tier", tier));

    public void Uploaded(long bytes, int pages)
    {
        _uploadBytes.Add(bytes);
        _uploadPages.Add(pages);
    }

    private static TagList GenAiTags(string provider, string requestModel, string? responseModel, string? errorType)
    {
        var tags = new TagList
        {
            { ChatTelemetry.OperationName, ChatTelemetry.Chat },
            { ChatTelemetry.ProviderName, provider },
            { ChatTelemetry.RequestModel, requestModel },
        };
        if (responseModel is not null) tags.Add(ChatTelemetry.ResponseModel, responseModel);
        if (errorType is not null) tags.Add(ChatTelemetry.ErrorType, errorType);
        return tags;
    }
}
