using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using OpenAI;

namespace ChatSlices.Infrastructure.AI;

/// <summary>The <see cref="IChatClient"/> behind each catalog model. One OpenAI client (one connection pool) serves every openai model.</summary>
public sealed class ChatProviders(IOptions<AiSettings> settings, LocalChatClient local) : IDisposable
{
    private readonly Lazy<OpenAIClient> _openAi = new(() => CreateOpenAiClient(settings.Value));
    private readonly ConcurrentDictionary<string, IChatClient> _openAiModels = new(StringComparer.Ordinal);

    public IChatClient For(ModelSpec model) => (model.Provider ?? settings.Value.Provider) switch
    {
        "local" => local,
        "openai" => _openAiModels.GetOrAdd(model.ProviderModel ?? model.Id, name => new OpenAiChatClient(_openAi.Value.GetChatClient(name))),
        var other => throw new InvalidOperationException($"Model '{model.Id}' names an unknown provider '{other}'."),
    };

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
        foreach (var client in _openAiModels.Values) client.Dispose();
    }
}
