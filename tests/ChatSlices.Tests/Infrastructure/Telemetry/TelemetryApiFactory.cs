using System.Diagnostics;
using ChatSlices.Tests.Support;
using Microsoft.AspNetCore.Hosting;

namespace ChatSlices.Tests.Infrastructure.Telemetry;

/// <summary>
/// Metrics and spans are process-wide (a provider hears every instance of a meter or source of its name, in every
/// server of the test run), so these tests run alone, after the parallel ones, against a model no other test uses.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TelemetryCollection
{
    public const string Name = "Telemetry";
}

/// <summary>
/// <see cref="ChatApiFactory"/> exporting traces over OTLP/HTTP to its own <see cref="OtlpReceiver"/>, with the model
/// <see cref="Model"/> (sent upstream as <see cref="UpstreamModel"/>).
/// </summary>
public class TelemetryApiFactory : ChatApiFactory
{
    public const string Model = "metrics-gpt", UpstreamModel = "metrics-gpt-upstream";

    public OtlpReceiver Otlp { get; } = new();

    public TelemetryApiFactory()
    {
        With("Models:5:Id", Model).With("Models:5:Provider", "openai").With("Models:5:ProviderModel", UpstreamModel);
        With("RateLimits:Tiers:pro:TokensPerDay", "1"); // a pro caller is refused at once (the refusals metric)
    }

    /// <summary>
    /// The OTLP settings as host settings: Program.cs decides on tracing before the test's app configuration is added
    /// (as it does on the real environment variables).
    /// </summary>
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("OTEL_EXPORTER_OTLP_ENDPOINT", Otlp.Endpoint);
        builder.UseSetting("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
        builder.UseSetting("OTEL_BSP_SCHEDULE_DELAY", "100"); // export spans every 100 ms, not every 5 s
    }

    /// <summary>
    /// The gateway's trace, current until disposed: requests sent meanwhile carry it in their <c>traceparent</c>. (A header
    /// set by hand would not survive: the service's tracer, in this process, traces the test's client too and propagates
    /// the client's own context.)
    /// </summary>
    public static Activity GatewayTrace() =>
        new Activity("gateway").SetParentId(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded).Start();

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Otlp.DisposeAsync();
    }
}

/// <summary><see cref="TelemetryApiFactory"/> with <c>Telemetry:RecordContent</c> on.</summary>
public sealed class RecordContentApiFactory : TelemetryApiFactory
{
    public RecordContentApiFactory() => With("Telemetry:RecordContent", "true");
}

/// <summary><see cref="TelemetryApiFactory"/> recording no trace begun by the service (<c>Telemetry:TraceSampleRatio=0</c>).</summary>
public sealed class NoRootTracesApiFactory : TelemetryApiFactory
{
    public NoRootTracesApiFactory() => With("Telemetry:TraceSampleRatio", "0");
}
