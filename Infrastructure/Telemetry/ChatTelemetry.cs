using System.Diagnostics;
using Microsoft.Extensions.AI;

namespace ChatSlices.Infrastructure.Telemetry;

/// <summary>
/// The service's spans (one <see cref="ActivitySource"/>) and the OpenTelemetry GenAI attribute names they and
/// <see cref="ChatMetrics"/> use. Starting a span costs nothing when no tracer listens (<c>StartActivity</c> returns null).
/// </summary>
public static class ChatTelemetry
{
    public const string Name = "ChatSlices";

    public static readonly ActivitySource Source = new(Name);

    public const string OperationName = "gen_ai.operation.name";
    public const string ProviderName = "gen_ai.provider.name";
    public const string RequestModel = "gen_ai.request.model";
    public const string ResponseModel = "gen_ai.response.model";
    public const string RequestMaxTokens = "gen_ai.request.max_tokens";
    public const string RequestTemperature = "gen_ai.request.temperature";
    public const string InputTokens = "gen_ai.usage.input_tokens";
    public const string OutputTokens = "gen_ai.usage.output_tokens";
    public const string FinishReasons = "gen_ai.response.finish_reasons";
    public const string InputMessages = "gen_ai.input.messages";
    public const string OutputMessages = "gen_ai.output.messages";
    public const string TokenType = "gen_ai.token.type";
    public const string ErrorType = "error.type";

    public const string Chat = "chat";
    public const string Embeddings = "embeddings";

    /// <summary>A span of one internal step (retrieval, cache lookup, PDF extraction), or null when nobody listens.</summary>
    public static Activity? Step(string name) => Source.StartActivity(name);

    /// <summary>
    /// An <c>embeddings {model}</c> span around one call to an embedding model, or null when nobody listens. Provider and
    /// model come from the generator's own metadata (left out when it gives none).
    /// </summary>
    public static Activity? Embedding(IEmbeddingGenerator generator, int inputs)
    {
        if (!Source.HasListeners()) return null;
        var about = generator.GetService<EmbeddingGeneratorMetadata>();
        var activity = Source.StartActivity(about?.DefaultModelId is { } model ? $"{Embeddings} {model}" : Embeddings, ActivityKind.Client);
        if (activity is null) return null;
        activity.SetTag(OperationName, Embeddings);
        activity.SetTag(ProviderName, about?.ProviderName);
        activity.SetTag(RequestModel, about?.DefaultModelId);
        activity.SetTag("chatslices.embedding.inputs", inputs);
        return activity;
    }

    /// <summary>Marks a span failed with a low-cardinality <c>error.type</c>.</summary>
    public static void Failed(this Activity? activity, string errorType)
    {
        if (activity is null) return;
        activity.SetTag(ErrorType, errorType);
        activity.SetStatus(ActivityStatusCode.Error);
    }
}
