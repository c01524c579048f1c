using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ChatSlices.Tests.Support;

/// <summary>Mints the bearer tokens the tests send, good and deliberately bad.</summary>
public static class Tokens
{
    public const string SigningKey = "test-signing-key-that-is-long-enough-0123456789";
    public const string Issuer = "chatslices-tests";
    public const string Audience = "chatslices-api";

    public static string For(
        string sub, string[]? roles = null, string? tier = null, string? name = null, string? azp = null,
        string key = SigningKey, string issuer = Issuer, string audience = Audience, DateTime? expires = null)
    {
        var claims = new Dictionary<string, object> { ["sub"] = sub };
        if (roles is { Length: > 0 }) claims["role"] = roles;
        if (tier is not null) claims["tier"] = tier;
        if (name is not null) claims["name"] = name;
        if (azp is not null) claims["azp"] = azp;
        var exp = expires ?? DateTime.UtcNow.AddMinutes(10);
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Claims = claims,
            NotBefore = exp.AddMinutes(-20),
            IssuedAt = exp.AddMinutes(-20),
            Expires = exp,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key)), SecurityAlgorithms.HmacSha256),
        });
    }

    public static string Admin(string sub = "admin-1") => For(sub, roles: ["admin"]);

    /// <summary>An unsigned token (<c>alg: none</c>) with otherwise valid claims.</summary>
    public static string Unsigned(string sub)
    {
        static string Encode(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json));
        var exp = DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeSeconds();
        return Encode("""{"alg":"none","typ":"JWT"}""") + "." +
               Encode($$"""{"sub":"{{sub}}","iss":"{{Issuer}}","aud":"{{Audience}}","exp":{{exp}}}""") + ".";
    }
}
