using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using OpenAI;

namespace ChatSlices.Infrastructure.AI;

/// <summary>
/// The Semantic Kernel services behind each catalog model: an <see cref="IChatCompletionService"/> for chat models and
/// an <see cref="IEmbeddingGenerator{TInput,TEmbedding}"/> for embedding models. <c>openai</c> models go through SK's
/// OpenAI connector over one OpenAI client (one connection pool); <c>local</c> models are the offline ones.
/// </summary>
public sealed class ModelProviders(IOptions<AiSettings> settings, LocalChatCompletion localChat) : IDisposable
{
    private readonly Lazy<OpenAIClient> _openAi = new(() => CreateOpenAiClient(settings.Value));
    private readonly ConcurrentDictionary<string, Kernel> _kernels = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, IEmbeddingGenerator<string, Embedding<float>>> _localEmbedders = new(StringComparer.Ordinal);

    public IChatCompletionService ChatService(ModelSpec model) => ProviderOf(model) switch
    {
        "local" => localChat,
        _ => _kernels.GetOrAdd("chat:" + ProviderName(model),
                _ => Kernel.CreateBuilder().AddOpenAIChatCompletion(ProviderName(model), _openAi.Value).Build())
            .GetRequiredService<IChatCompletionService>(),
    };

    public IEmbeddingGenerator<string, Embedding<float>> Embedder(ModelSpec model) => ProviderOf(model) switch
    {
        "local" => _localEmbedders.GetOrAdd(model.Id, _ => LocalEmbedders.Create(model)),
        _ => _kernels.GetOrAdd("embed:" + ProviderName(model),
                _ => Kernel.CreateBuilder().AddOpenAIEmbeddingGenerator(ProviderName(model), _openAi.Value).Build())
            .GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>(),
    };

    /// <summary><c>local</c> or <c>openai</c>: the model's own, else <c>AI:Provider</c>.</summary>
    public string ProviderOf(ModelSpec model)
    {
        var provider = model.Provider ?? settings.Value.Provider;
        return provider is "local" or "openai"
            ? provider
            : throw new InvalidOperationException($"Model '{model.Id}' names an unknown provider '{provider}'.");
    }

    private static string ProviderName(ModelSpec model) => model.ProviderModel ?? model.Id;

    private static OpenAIClient CreateOpenAiClient(AiSettings settings)
    {
        if (string.IsNullOrWhiteSpace(settings.Endpoint))
            throw new InvalidOperationException("AI:Endpoint must be set for openai models.");
        var http = new HttpClient(new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5), // follow DNS changes of the upstream
            EnableMultipleHttp2Connections = true,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan, // the chat turn owns the first-token and reply timeouts
        };
        return new OpenAIClient(new ApiKeyCredential(string.IsNullOrEmpty(settings.ApiKey) ? "none" : settings.ApiKey), new OpenAIClientOptions
        {
            Endpoint = new Uri(settings.Endpoint),
            Transport = new HttpClientPipelineTransport(http),
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0), // a retry would hide latency from the caller; they decide
            NetworkTimeout = Timeout.InfiniteTimeSpan,
        });
    }

    public void Dispose()
    {
        foreach (var embedder in _localEmbedders.Values) embedder.Dispose();
        foreach (var kernel in _kernels.Values)
            (kernel.Services as IDisposable)?.Dispose();
    }
}
