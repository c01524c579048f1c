namespace ChatSlices.Infrastructure.Auth;

public sealed class AuthSettings
{
    public const string Section = "Auth";

    /// <summary>Keys starting with this are for development only; the service refuses them elsewhere.</summary>
    public const string DevelopmentKeyPrefix = "development-only:";

    /// <summary>OIDC authority: tokens are checked against its discovery document and JWKS.</summary>
    public string? Authority { get; set; }

    /// <summary>HS256 key (at least 32 bytes), used when no authority is set.</summary>
    public string? SigningKey { get; set; }

    /// <summary>Expected issuer; with an authority and no issuer set, the authority's own issuer is expected.</summary>
    /// <remarks>Blank counts as not set: an empty <c>Auth__Issuer=</c> would otherwise expect the issuer "" and refuse every token.</remarks>
    public string? Issuer { get; set => field = string.IsNullOrWhiteSpace(value) ? null : value; }

    public string Audience { get; set; } = "chatslices-api";

    public bool RequireHttpsMetadata { get; set; } = true;

    public string EffectiveIssuer => Issuer ?? "chatslices";

    /// <summary>Why this configuration must not serve requests in <paramref name="environment"/>, or null when it may.</summary>
    public string? Problem(IHostEnvironment environment)
    {
        if (!string.IsNullOrWhiteSpace(Authority))
            return RequireHttpsMetadata && !Authority.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
                ? "Auth:Authority must be an https URL (Auth:RequireHttpsMetadata=false allows http, for a local authority only)."
                : null;
        if (string.IsNullOrWhiteSpace(SigningKey))
            return "Set Auth:Authority (OIDC) or Auth:SigningKey (HS256, at least 32 bytes).";
        if (System.Text.Encoding.UTF8.GetByteCount(SigningKey) < 32)
            return "Auth:SigningKey must be at least 32 bytes.";
        if (!environment.IsDevelopment() && SigningKey.StartsWith(DevelopmentKeyPrefix, StringComparison.Ordinal))
            return "The development signing key may only be used in the Development environment.";
        return null;
    }
}
