using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace ChatSlices.Tests.Support;

/// <summary>
/// The service on a real Kestrel port, with the <c>openai</c> provider pointed at a <see cref="FakeUpstream"/>.
/// Catalog: <c>fake-gpt</c> (priced), <c>tiny-gpt</c> (a 120-token window), <c>fake-embed</c> and the local models.
/// </summary>
public class ChatApiFactory : ApiFactory
{
    public const decimal InputPrice = 2.5m, OutputPrice = 10m;

    public FakeUpstream Upstream { get; } = new();

    public ChatApiFactory()
    {
        With("AI:Endpoint", Upstream.BaseUrl).With("AI:ApiKey", "fake-key").With("AI:DefaultModel", "fake-gpt");
        With("AI:FirstTokenTimeoutSeconds", "3");
        With("Models:2:Id", "fake-gpt").With("Models:2:Provider", "openai").With("Models:2:ProviderModel", "gpt-fake")
            .With("Models:2:ContextWindow", "16000").With("Models:2:MaxOutputTokens", "4096")
            .With("Models:2:InputPricePerMillion", InputPrice.ToString()).With("Models:2:OutputPricePerMillion", OutputPrice.ToString());
        With("Models:4:Id", "fake-embed").With("Models:4:Provider", "openai").With("Models:4:Kind", "embedding").With("Models:4:Dimensions", "8");
        With("Models:3:Id", "tiny-gpt").With("Models:3:Provider", "openai").With("Models:3:ContextWindow", "120").With("Models:3:MaxOutputTokens", "20");
    }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        UseKestrel(0);
        StartServer();
    }

    public Uri ServerAddress => new(Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    /// <summary>An HTTP client over a real socket to the Kestrel port (not the in-memory test server).</summary>
    public HttpClient SocketClient(string? token = null)
    {
        // No draining of unread responses: disposing one closes the connection, as a client that leaves does.
        var handler = new SocketsHttpHandler { MaxResponseDrainSize = 0, ResponseDrainTimeout = TimeSpan.Zero };
        var client = new HttpClient(handler) { BaseAddress = ServerAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (token is not null) client.DefaultRequestHeaders.Authorization = new("Bearer", token);
        return client;
    }

    /// <summary>The official OpenAI SDK's options for this service: its <c>/v1</c>, no retries (a test sees the first answer).</summary>
    public OpenAI.OpenAIClientOptions OpenAiOptions() => new()
    {
        Endpoint = new Uri(ServerAddress, "/v1"),
        Transport = new System.ClientModel.Primitives.HttpClientPipelineTransport(new HttpClient()),
        RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(0),
    };

    public static HttpRequestMessage Post(string path, object body, string? accept = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        if (accept is not null) request.Headers.Accept.ParseAdd(accept);
        return request;
    }

    public async Task<T?> ScalarAsync<T>(string sql, object? args = null)
    {
        await using var conn = new NpgsqlConnection(ConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        foreach (var p in args?.GetType().GetProperties() ?? []) cmd.Parameters.AddWithValue(p.Name, p.GetValue(args)!);
        var value = await cmd.ExecuteScalarAsync();
        return value is null or DBNull ? default : (T)value;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Upstream.DisposeAsync();
    }
}
