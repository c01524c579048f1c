using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ChatSlices.Tests.Support;

/// <summary>
/// An OpenID Connect authority on loopback (Kestrel, plain http): <c>/.well-known/openid-configuration</c> and a JWKS with
/// the public halves of the keys it publishes (an RSA and an EC P-256 key to start with). It mints tokens with any of its
/// keys, or with keys it does not publish, and can rotate: publish a new key under a new <c>kid</c>.
/// </summary>
public sealed class TestAuthority : IAsyncDisposable
{
    /// <summary>A signing key: its <c>kid</c>, the algorithm it signs with, and the key (with its private half).</summary>
    public sealed record Key(string Kid, string Algorithm, AsymmetricSecurityKey SecurityKey)
    {
        public SigningCredentials Credentials => new(SecurityKey, Algorithm);

        /// <summary>The public half as a JWK.</summary>
        public Dictionary<string, string> Jwk() => SecurityKey switch
        {
            RsaSecurityKey { Rsa: { } rsa } => RsaJwk(rsa.ExportParameters(false)),
            ECDsaSecurityKey ec => EcJwk(ec.ECDsa.ExportParameters(false)),
            _ => throw new NotSupportedException(SecurityKey.GetType().Name),
        };

        private Dictionary<string, string> RsaJwk(RSAParameters p) => new()
        {
            ["kty"] = "RSA", ["use"] = "sig", ["kid"] = Kid, ["alg"] = Algorithm,
            ["n"] = Base64UrlEncoder.Encode(p.Modulus!), ["e"] = Base64UrlEncoder.Encode(p.Exponent!),
        };

        private Dictionary<string, string> EcJwk(ECParameters p) => new()
        {
            ["kty"] = "EC", ["use"] = "sig", ["kid"] = Kid, ["alg"] = Algorithm, ["crv"] = "P-256",
            ["x"] = Base64UrlEncoder.Encode(p.Q.X!), ["y"] = Base64UrlEncoder.Encode(p.Q.Y!),
        };
    }

    private readonly WebApplication _app;
    private readonly object _gate = new();
    private List<Key> _published;
    private int _rotations;
    private int _jwksRequests;

    public string Issuer { get; }

    /// <summary>RS256, PS256 and ES256 keys, published from the start.</summary>
    public Key Rsa { get; }
    public Key Ps { get; }
    public Key Ec { get; }

    /// <summary>How many times the JWKS was fetched.</summary>
    public int JwksRequests => Volatile.Read(ref _jwksRequests);

    public IReadOnlyList<Key> Published
    {
        get { lock (_gate) return [.. _published]; }
    }

    public TestAuthority()
    {
        Rsa = NewRsaKey("rsa-1");
        Ps = NewRsaKey("ps-1", SecurityAlgorithms.RsaSsaPssSha256);
        Ec = NewEcKey("ec-1");
        _published = [Rsa, Ps, Ec];

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.MapGet("/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = Issuer!,
            ["jwks_uri"] = Issuer + "/jwks",
            ["authorization_endpoint"] = Issuer + "/authorize",
            ["token_endpoint"] = Issuer + "/token",
            ["response_types_supported"] = new[] { "code" },
            ["subject_types_supported"] = new[] { "public" },
            ["id_token_signing_alg_values_supported"] = new[] { "RS256", "PS256", "ES256" },
        }));
        _app.MapGet("/jwks", () =>
        {
            Interlocked.Increment(ref _jwksRequests);
            return Results.Json(new { keys = Published.Select(k => k.Jwk()) });
        });
        _app.StartAsync().GetAwaiter().GetResult();
        Issuer = _app.Urls.First();
    }

    public static Key NewRsaKey(string kid, string algorithm = SecurityAlgorithms.RsaSha256) =>
        new(kid, algorithm, new RsaSecurityKey(RSA.Create(2048)) { KeyId = kid });

    public static Key NewEcKey(string kid) =>
        new(kid, SecurityAlgorithms.EcdsaSha256, new ECDsaSecurityKey(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = kid });

    /// <summary>Publishes a new RS256 key under a new <c>kid</c> and stops publishing the RS256 key before it; returns the new key.</summary>
    public Key RotateRsa()
    {
        var next = NewRsaKey($"rsa-rotated-{Interlocked.Increment(ref _rotations)}");
        lock (_gate) _published = [next, .. _published.Where(k => k.Algorithm != SecurityAlgorithms.RsaSha256)];
        return next;
    }

    /// <summary>A token from this authority for <paramref name="sub"/>, signed with <paramref name="key"/> (published or not).</summary>
    public string Token(string sub, Key key, string? algorithm = null, string audience = Tokens.Audience, string[]? roles = null)
    {
        var claims = new Dictionary<string, object> { ["sub"] = sub };
        if (roles is { Length: > 0 }) claims["role"] = roles;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = audience,
            Claims = claims,
            IssuedAt = DateTime.UtcNow.AddMinutes(-1),
            NotBefore = DateTime.UtcNow.AddMinutes(-1),
            Expires = DateTime.UtcNow.AddMinutes(10),
            SigningCredentials = new SigningCredentials(key.SecurityKey, algorithm ?? key.Algorithm),
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
