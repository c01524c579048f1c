namespace ChatSlices.Infrastructure.Telemetry;

public sealed class TelemetrySettings
{
    public const string Section = "Telemetry";

    /// <summary>Off: no OpenTelemetry at all (no metrics, no traces, no <c>/metrics</c>); the instruments stay, unheard.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Prompts and replies on the <c>chat</c> spans (<c>gen_ai.input.messages</c>, <c>gen_ai.output.messages</c>).</summary>
    public bool RecordContent { get; set; }

    /// <summary><c>GET /metrics</c> in the Prometheus text format.</summary>
    public bool PrometheusEndpoint { get; set; } = true;

    /// <summary>
    /// Who may read <c>/metrics</c> (CIDR; the address after trusted forwarded headers). Empty: loopback and the private
    /// ranges (<see cref="MetricsNetworks.Defaults"/>).
    /// </summary>
    public string[] MetricsAllowedNetworks { get; set; } = [];
}
