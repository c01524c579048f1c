using System.ComponentModel.DataAnnotations;

namespace ChatSlices.Infrastructure.AI;

public sealed class AiSettings
{
    public const string Section = "AI";

    /// <summary>Provider of catalog models that name none: <c>local</c> (offline) or <c>openai</c>.</summary>
    public string Provider { get; set; } = "local";

    /// <summary>Base URL of the OpenAI-compatible API, including <c>/v1</c> (e.g. <c>http://localhost:11434/v1</c> for Ollama).</summary>
    public string? Endpoint { get; set; }

    public string? ApiKey { get; set; }

    /// <summary>Chat model of turns that name none; unset: the first chat model the <c>openai</c> endpoint lists, else <c>local-chat</c>.</summary>
    public string? DefaultModel { get; set; }

    public string EmbeddingModel { get; set; } = "local-embed";

    /// <summary>How long the provider may take to send the first token of a reply.</summary>
    [Range(0.001, 86_400)]
    public double FirstTokenTimeoutSeconds { get; set; } = 30;

    /// <summary>How long a whole reply may take.</summary>
    [Range(0.001, 86_400)]
    public double ReplyTimeoutSeconds { get; set; } = 300;

    /// <summary>How often the <c>openai</c> endpoint's model list is read again.</summary>
    [Range(0.01, 10_080)]
    public double ModelRefreshMinutes { get; set; } = 10;
}
