using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace ChatSlices.Infrastructure.AI;

/// <summary>
/// The models the <c>openai</c> endpoint lists (<c>GET {AI:Endpoint}/models</c>), read at start and every
/// <c>AI:ModelRefreshMinutes</c>, for the catalog to offer beside its configured ones. A failed read is logged and
/// keeps the last list: the service runs on without it.
/// </summary>
public sealed partial class UpstreamModels(IHttpClientFactory http, IOptions<AiSettings> settings, ILogger<UpstreamModels> logger) : BackgroundService
{
    public const string ClientName = "upstream-models";

    private volatile IReadOnlyList<ModelSpec> _models = [];

    /// <summary>The models of the last successful read, in the upstream's order.</summary>
    public IReadOnlyList<ModelSpec> Current => _models;

    private bool Enabled => settings.Value.Provider == "openai" && !string.IsNullOrWhiteSpace(settings.Value.Endpoint);

    /// <summary>The first read happens before the service takes requests, so that its default model is known.</summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (Enabled) await RefreshAsync(cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!Enabled) return;
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(settings.Value.ModelRefreshMinutes));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken)) await RefreshAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
    }

    private async Task RefreshAsync(CancellationToken ct)
    {
        try
        {
            var client = http.CreateClient(ClientName);
            using var request = new HttpRequestMessage(HttpMethod.Get, settings.Value.Endpoint!.TrimEnd('/') + "/models");
            if (!string.IsNullOrEmpty(settings.Value.ApiKey)) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", settings.Value.ApiKey);
            using var response = await client.SendAsync(request, ct);
            response.EnsureSuccessStatusCode();
            await using var body = await response.Content.ReadAsStreamAsync(ct);
            using var json = await JsonDocument.ParseAsync(body, cancellationToken: ct);
            _models = Parse(json.RootElement);
            LogRead(_models.Count);
        }
        catch (Exception e) when (!ct.IsCancellationRequested) // whatever the endpoint did (refused, timed out, answered nonsense)
        {
            LogFailed(e, settings.Value.Endpoint);
        }
    }

    /// <summary>
    /// OpenAI's list (<c>{object: "list", data: [{id, object: "model", created, owned_by}]}</c>), as chat models, except the
    /// kinds a chat turn cannot use (speech, images, moderation); embedding models are listed without dimensions (a
    /// configured entry gives them, and only then can they embed). A context length is taken where the server tells it.
    /// </summary>
    public static IReadOnlyList<ModelSpec> Parse(JsonElement list)
    {
        var models = new List<ModelSpec>();
        foreach (var item in list.GetProperty("data").EnumerateArray())
        {
            var id = item.GetProperty("id").GetString();
            if (string.IsNullOrWhiteSpace(id) || NotForChat.Any(id.Contains)) continue;
            var model = new ModelSpec
            {
                Id = id, Provider = "openai",
                Kind = id.Contains("embed", StringComparison.OrdinalIgnoreCase) ? ModelKind.Embedding : ModelKind.Chat,
                OwnedBy = item.TryGetProperty("owned_by", out var owner) && owner.ValueKind == JsonValueKind.String ? owner.GetString()! : "upstream",
            };
            if (ContextLength(item) is { } window)
            {
                model.ContextWindow = window;
                model.MaxOutputTokens = Math.Min(model.MaxOutputTokens, window / 2);
            }
            models.Add(model);
        }
        return models;
    }

    private static readonly string[] NotForChat = ["whisper", "tts", "dall-e", "moderation", "transcribe", "image"];

    // vLLM says max_model_len; LM Studio and others context_length or context_window.
    private static int? ContextLength(JsonElement item) =>
        new[] { "context_window", "context_length", "max_model_len" }
            .Select(name => item.TryGetProperty(name, out var value) && value.TryGetInt32(out var n) && n > 0 ? n : (int?)null)
            .FirstOrDefault(n => n is not null);

    [LoggerMessage(LogLevel.Information, "Read {Count} models from the upstream")]
    partial void LogRead(int count);

    [LoggerMessage(LogLevel.Warning, "Reading the model list of {Endpoint} failed; the catalog keeps the last one")]
    partial void LogFailed(Exception exception, string? endpoint);
}
