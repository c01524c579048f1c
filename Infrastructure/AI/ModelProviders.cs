using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using OpenAI;

namespace ChatSlices.Infrastructure.AI;

/// <summary>
/// The <see cref="IChatClient"/> or <see cref="IEmbeddingGenerator{TInput,TEmbedding}"/> behind each catalog model.
/// One OpenAI client (one connection pool) serves every openai model.
/// </summary>
public sealed class ModelProviders(IOptions<AiSettings> settings, LocalChatClient localChat) : IDisposable
{
    private readonly Lazy<OpenAIClient> _openAi = new(() => CreateOpenAiClient(settings.Value));
    private readonly ConcurrentDictionary<string, IDisposable> _clients = new(StringComparer.Ordinal);

    public IChatClient ChatClient(ModelSpec model) => ProviderOf(model) switch
    {
        "local" => localChat,
        _ => (IChatClient)_clients.GetOrAdd("chat:" + ProviderName(model), _ => new OpenAiChatClient(_openAi.Value.GetChatClient(ProviderName(model)))),
    };

    public IEmbeddingGenerator<string, Embedding<float>> Embedder(ModelSpec model) => ProviderOf(model) switch
    {
        "local" => (IEmbeddingGenerator<string, Embedding<float>>)_clients.GetOrAdd("local-embed:" + model.Id, _ => new LocalEmbeddingGenerator(model.Dimensions ?? 384)),
        _ => (IEmbeddingGenerator<string, Embedding<float>>)_clients.GetOrAdd("embed:" + ProviderName(model), _ => new OpenAiEmbeddingGenerator(_openAi.Value.GetEmbeddingClient(ProviderName(model)))),
    };

    private string ProviderOf(ModelSpec model)
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
            Timeout = Timeout.InfiniteTimeSpan, // the chat pipeline owns the first-token and reply timeouts
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
        foreach (var client in _clients.Values) client.Dispose();
    }
}
