using System.Text.Json;
using System.Text.Json.Serialization;
using Carter;
using ChatSlices.Features.StreamChat;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Database;
using ChatSlices.Infrastructure.Documents;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Health;
using ChatSlices.Infrastructure.Http;
using ChatSlices.Infrastructure.Mediation;
using ChatSlices.Infrastructure.OpenApi;
using ChatSlices.Infrastructure.RateLimiting;
using ChatSlices.Infrastructure.Redis;
using ChatSlices.Infrastructure.Telemetry;
using ChatSlices.Infrastructure.Usage;
using Microsoft.Extensions.Options;

if (args is ["token", .. var tokenArgs])
    return DevTokenCommand.Run(DevTokenCommand.Configuration(), tokenArgs, Console.Out, Console.Error);

var builder = WebApplication.CreateBuilder(args);

if (!builder.Environment.IsDevelopment())
    builder.Logging.AddJsonConsole(o => o.IncludeScopes = true);

builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.AddServerHeader = false;
    kestrel.Limits.MaxRequestBodySize = builder.Configuration.GetValue<long?>("Http:MaxRequestBodyBytes") ?? 11 * 1024 * 1024;
});
builder.Services.Configure<HostOptions>(o =>
    o.ShutdownTimeout = TimeSpan.FromSeconds(builder.Configuration.GetValue("Http:ShutdownTimeoutSeconds", 30)));

builder.Services.ConfigureHttpJsonOptions(o =>
{
    o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
    o.SerializerOptions.DictionaryKeyPolicy = null;
    o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
    o.SerializerOptions.Converters.Add(new StorableStringConverter());
});

builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton<SharedRedis>();
builder.Services.AddDatabase();
builder.Services.AddOptions<List<ModelSpec>>().BindConfiguration(ModelCatalog.Section);
builder.Services.AddSingleton<ModelCatalog>();
builder.Services.AddHttpClient(UpstreamModels.ClientName, c => c.Timeout = TimeSpan.FromSeconds(10));
builder.Services.AddSingleton<UpstreamModels>();
builder.Services.AddHostedService(sp => sp.GetRequiredService<UpstreamModels>());
builder.Services.AddOptions<AiSettings>().BindConfiguration(AiSettings.Section).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddOptions<ChatSettings>().BindConfiguration(ChatSettings.Section).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddSingleton<LocalChatCompletion>();
builder.Services.AddSingleton<ModelProviders>();
builder.Services.AddOptions<UploadSettings>().BindConfiguration(UploadSettings.Section)
    .Validate(s => s.MaxConcurrentExtractions is null or > 0 && s.MaxWaitingExtractions is null or >= 0,
        "Uploads: MaxConcurrentExtractions must be positive and MaxWaitingExtractions at least 0 (leave them out for the defaults).")
    .ValidateOnStart();
builder.Services.AddSingleton<ExtractionQueue>();
builder.Services.AddSingleton<PdfText>();
builder.Services.AddSingleton<UsageLedger>();
builder.Services.AddSingleton<DocumentIngestion>();
builder.Services.AddStreamChat();
builder.Services.AddMediator(typeof(Program).Assembly);
builder.Services.AddChatSlicesProblems();
builder.Services.AddChatSlicesAuth();
builder.Services.AddChatSlicesOpenApi();
builder.Services.AddChatSlicesHealth();
builder.Services.AddChatSlicesRateLimiting();
builder.AddChatSlicesTelemetry();
// The routes: every ICarterModule of this assembly. Nothing else is scanned: no FluentValidation validators (validation
// is the MediatR behavior's) and no response negotiators (results are TypedResults).
builder.Services.AddCarter(new DependencyContextAssemblyCatalog(typeof(Program).Assembly),
    carter => carter.WithEmptyValidators().WithEmptyResponseNegotiators());

var app = builder.Build();

if (app.Services.GetRequiredService<IOptions<AuthSettings>>().Value.Problem(app.Environment) is { } authProblem)
    throw new InvalidOperationException("Refusing to start: " + authProblem);

await app.Services.GetRequiredService<Migrator>().MigrateAsync(app.Lifetime.ApplicationStopping);
await app.Services.GetRequiredService<VectorIndexes>().EnsureAsync(app.Lifetime.ApplicationStopping);

app.UseConfiguredPathBase(app.Configuration);
app.UseTrustedForwardedHeaders(app.Configuration);
app.UseRequestLogging();
app.UseExceptionHandler();
app.UseProblemStatusCodes();
app.UseChatSlicesMetrics();
app.UseUtf8JsonBodies();
app.UseAuthentication();
app.UseAuthorization();
app.UseUserDirectory();
app.UseChatSlicesRateLimiting();
app.UseStaleConnectionRetry();

app.MapOpenApi();
app.MapChatSlicesHealth();
app.MapCarter();

await app.RunAsync();
return 0;

public partial class Program;
