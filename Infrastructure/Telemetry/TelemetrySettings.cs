using System.ComponentModel.DataAnnotations;

namespace ChatSlices.Infrastructure.Telemetry;

public sealed class TelemetrySettings
{
    public const string Section = "Telemetry";

    /// <summary>Off: no OpenTelemetry at all (no metrics, no traces, no <c>/metrics</c>); the instruments stay, unheard.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Prompts and replies on the <c>chat</c> spans (<c>gen_ai.input.messages</c>, <c>gen_ai.output.messages</c>).</summary>
    public bool RecordContent { get; set; }

    /// <summary>
    /// The share of traces begun here that are recorded and exported (0..1, by trace id): a request that arrives with a
    /// <c>traceparent</c> follows its caller's decision instead. Unrecorded requests still carry a trace id (log line,
    /// problem bodies, the upstream's <c>traceparent</c>). <c>OTEL_TRACES_SAMPLER</c>, when set, decides instead.
    /// </summary>
    [Range(0.0, 1.0)]
    public double TraceSampleRatio { get; set; } = 1.0;

    /// <summary><c>GET /metrics</c> in the Prometheus text format.</summary>
    public bool PrometheusEndpoint { get; set; } = true;

    /// <summary>
    /// Who may read <c>/metrics</c> (CIDR; the address after trusted forwarded headers). Empty: loopback and the private
    /// ranges (<see cref="MetricsNetworks.Defaults"/>).
    /// </summary>
    public string[] MetricsAllowedNetworks { get; set; } = [];
}
