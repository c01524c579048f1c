using Microsoft.Extensions.Options;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace ChatSlices.Infrastructure.Telemetry;

/// <summary>
/// OpenTelemetry for the service: metrics (its own, ASP.NET Core, HttpClient, runtime, Npgsql), served as Prometheus
/// text on <c>GET /metrics</c>; traces and logs only where they can go, to the OTLP endpoint of the standard variables
/// (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c>, <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, …), sampled by
/// <c>Telemetry:TraceSampleRatio</c> (parent-based): spans nobody exports would only cost. Nothing is collected when
/// nothing reads it (no <c>/metrics</c>, no OTLP); <c>Telemetry:Enabled=false</c> turns all of it off.
/// </summary>
public static class TelemetrySetup
{
    public const string MetricsPath = "/metrics";

    public static WebApplicationBuilder AddChatSlicesTelemetry(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<TelemetrySettings>().BindConfiguration(TelemetrySettings.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ChatMetrics>();
        var settings = builder.Configuration.GetSection(TelemetrySettings.Section).Get<TelemetrySettings>() ?? new TelemetrySettings();
        var otlp = !string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        // Instruments nobody reads stay disabled (Instrument.Enabled false): no reader, no MeterProvider.
        if (!settings.Enabled || (!settings.PrometheusEndpoint && !otlp)) return builder;

        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource =>
            {
                if (string.IsNullOrEmpty(builder.Configuration["OTEL_SERVICE_NAME"])) resource.AddService("chatslices");
            })
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(ChatTelemetry.Name)
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddRuntimeInstrumentation()
                    .AddNpgsqlInstrumentation();
                foreach (var name in Dropped) metrics.AddView(name, MetricStreamConfiguration.Drop);
                if (settings.PrometheusEndpoint) metrics.AddPrometheusExporter();
            });
        if (!otlp) return builder;

        otel.WithTracing(tracing =>
            {
                tracing.AddSource(ChatTelemetry.Name)
                    .AddAspNetCoreInstrumentation(o => o.Filter = http => !IsOperations(http.Request.Path))
                    .AddHttpClientInstrumentation()
                    .AddNpgsql();
                if (string.IsNullOrEmpty(builder.Configuration["OTEL_TRACES_SAMPLER"]))
                    tracing.SetSampler(services => new ParentBasedSampler(
                        new TraceIdRatioBasedSampler(services.GetRequiredService<IOptions<TelemetrySettings>>().Value.TraceSampleRatio)));
            })
            .WithLogging()
            .UseOtlpExporter();
        return builder;
    }

    /// <summary>
    /// <c>GET /metrics</c> for clients in <c>Telemetry:MetricsAllowedNetworks</c>; for anyone else the request goes on as
    /// for any other path (no such route: 404). Outside authentication and rate limits, and not in the OpenAPI document.
    /// </summary>
    public static IApplicationBuilder UseChatSlicesMetrics(this IApplicationBuilder app)
    {
        var settings = app.ApplicationServices.GetRequiredService<IOptions<TelemetrySettings>>().Value;
        if (!settings.Enabled || !settings.PrometheusEndpoint) return app;
        var allowed = new MetricsNetworks(settings.MetricsAllowedNetworks is { Length: > 0 } networks ? networks : MetricsNetworks.Defaults);
        return app.UseOpenTelemetryPrometheusScrapingEndpoint(http =>
            http.Request.Path == MetricsPath && HttpMethods.IsGet(http.Request.Method) && allowed.Allows(http.Connection.RemoteIpAddress));
    }

    /// <summary>
    /// Instruments that would record on the hot path for figures no dashboard reads (a dropped instrument stays disabled:
    /// its callers skip the record).
    /// </summary>
    private static readonly string[] Dropped =
    [
        // Kestrel's memory pool counts every block it rents: a record per read and write of every stream.
        "aspnetcore.memory_pool.*",
        // Npgsql's per-command extras (commands executing, bytes each way, prepared ratio): four records per command;
        // db.client.operation.duration and the pool's db.client.connection.* stay.
        "db.client.operation.npgsql.*",
        // Per request, what the request duration, the pools and chatslices.refusals already tell: authentication and
        // authorization outcomes, route matching, the rate limiter's leases, and the upstream connections' states and
        // queue (http.client.request.duration stays).
        "aspnetcore.authentication.authenticate.duration", "aspnetcore.authorization.attempts", "aspnetcore.routing.match_attempts",
        "aspnetcore.rate_limiting.*", "http.client.active_requests", "http.client.open_connections", "http.client.request.time_in_queue",
    ];

    /// <summary>Scrapes and probes: not worth a trace each.</summary>
    private static bool IsOperations(PathString path) => path == MetricsPath || path.StartsWithSegments("/health");
}
