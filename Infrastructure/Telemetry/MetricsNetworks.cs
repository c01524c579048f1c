using System.Net;

namespace ChatSlices.Infrastructure.Telemetry;

/// <summary>The networks whose clients may scrape <c>/metrics</c>; everyone else meets the 404 of an unknown route.</summary>
public sealed class MetricsNetworks
{
    public static readonly string[] Defaults = ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"];

    private readonly IPNetwork[] _allowed;

    public MetricsNetworks(IEnumerable<string> networks) =>
        _allowed = networks.Select(n => IPNetwork.TryParse(n.Trim(), out var network)
            ? network
            : throw new InvalidOperationException($"Telemetry:MetricsAllowedNetworks holds '{n}', not a network in CIDR form (10.0.0.0/8).")).ToArray();

    public bool Allows(IPAddress? address)
    {
        if (address is null) return false;
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4(); // a dual-stack socket reports IPv4 clients so
        foreach (var network in _allowed)
            if (network.Contains(address)) return true;
        return false;
    }
}
