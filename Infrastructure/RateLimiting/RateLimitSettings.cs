namespace ChatSlices.Infrastructure.RateLimiting;

/// <summary>The limits of one tier. A null limit is no limit.</summary>
public sealed class TierLimits
{
    public int? RequestsPerMinute { get; set; }
    public int? ConcurrentStreams { get; set; }
    public long? TokensPerDay { get; set; }

    /// <summary>PDFs uploaded per UTC day (session files and assistants' knowledge).</summary>
    public int? UploadsPerDay { get; set; }

    /// <summary>Bytes of PDFs uploaded per UTC day.</summary>
    public long? UploadBytesPerDay { get; set; }
}

/// <summary><c>RateLimits:Tiers:{guest|free|pro|enterprise|admin}</c>. Admins are unlimited unless an admin tier is configured.</summary>
public sealed class RateLimitSettings
{
    public const string Section = "RateLimits";
    public const string Guest = "guest";
    public const string Admin = "admin";

    public Dictionary<string, TierLimits> Tiers { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    public TierLimits? For(string tier) => Tiers.GetValueOrDefault(tier);
}
