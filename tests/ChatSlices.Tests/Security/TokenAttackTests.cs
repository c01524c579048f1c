using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using ChatSlices.Tests.Support;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ChatSlices.Tests.Security;

/// <summary>
/// Forged, tampered and out-of-bounds bearer tokens, each on an authenticated route and on optional-auth routes: every one
/// is 401 problem+json with a <c>WWW-Authenticate: Bearer</c> challenge, and none reaches a handler (no <c>users</c> row
/// for its sub, no session written as a guest). The service is configured with the symmetric key of <see cref="Tokens"/>.
/// </summary>
public class TokenAttackTests(SecurityApiFactory api) : IClassFixture<SecurityApiFactory>
{
    /// <summary>The routes attacked: (method, path, body, policy).</summary>
    public static readonly (string Method, string Path, object? Body, string Policy)[] Routes =
    [
        ("GET", "/v1/users/me", null, "user"),
        ("GET", "/v1/models", null, "optional"),
        // An optional-auth route whose handler writes: a token that slipped through as a guest would leave a session.
        ("POST", "/v1/chat/stream", new { query = "hello", model = "local-chat", stream = false }, "optional"),
    ];

    public static readonly string[] Attacks =
    [
        "alg none",
        "alg None (mixed case)",
        "alg none keeping the real signature",
        "RS256 with a fresh RSA key",
        "RS256 with the attacker's key embedded as jwk",
        "HS256 with the RSA public key (PEM) as the HMAC secret",
        "HS256 with the RSA public key (DER) as the HMAC secret",
        "RS256 header over an HMAC of the real key",
        "HS512 with the real key (algorithm not allowed)",
        "claims changed after signing",
        "wrong key",
        "wrong issuer",
        "wrong audience",
        "no audience",
        "expired 35 s ago (beyond the 30 s skew)",
        "not valid for 10 minutes (nbf)",
        "no exp",
        "missing sub",
        "empty sub",
        "over 16 KB (many claims)",
        "empty signature",
        "two tokens in one header",
    ];

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (var attack in Attacks)
            for (var route = 0; route < Routes.Length; route++) data.Add(attack, route);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task ForgedOrInvalidToken_Is401WithABearerChallenge_AndReachesNoHandler(string attack, int routeIndex)
    {
        var route = Routes[routeIndex];
        api.Routes.Single(r => r.Key == $"{route.Method} {route.Path}").Policy.Should().Be(route.Policy);
        var sub = $"attacker-{Attacks.ToList().IndexOf(attack)}-{routeIndex}";
        var token = Forge(attack, sub);
        var usersBefore = await api.ScalarAsync<long>("SELECT count(*) FROM users");
        var sessionsBefore = await api.ScalarAsync<long>("SELECT count(*) FROM chat_sessions");
        var mark = api.Log.Mark;

        using var response = await SendAsync(route, token);

        var text = await response.Content.ReadAsStringAsync();
        var because = $"{attack} on {route.Method} {route.Path} (token of {token.Length} characters) got {(int)response.StatusCode} {Report.Clip(text)}; server log: {api.Log.Describe(mark)}";
        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized, because);
        await response.ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
        response.Headers.WwwAuthenticate.Should().Contain(h => h.Scheme == "Bearer", because);
        (await api.ScalarAsync<long>("SELECT count(*) FROM users WHERE id = @sub", new { sub })).Should().Be(0, "no handler (nor the user directory) may see " + attack);
        (await api.ScalarAsync<long>("SELECT count(*) FROM users")).Should().Be(usersBefore, "no users row may be created by " + attack);
        (await api.ScalarAsync<long>("SELECT count(*) FROM chat_sessions")).Should().Be(sessionsBefore, "no session (not even a guest's) may be written by " + attack);
    }

    /// <summary>
    /// The control that makes the checks above mean something: the same routes with a good token (and with a large but
    /// allowed one) answer, and the caller's users row appears.
    /// </summary>
    [Theory]
    [InlineData("valid", 0)]
    [InlineData("valid", 1)]
    [InlineData("valid", 2)]
    [InlineData("12 KB of claims (under the limit)", 0)]
    [InlineData("expired 10 s ago (within the skew)", 0)]
    public async Task TheSameRoutes_WithAGoodToken_Answer_AndRecordTheUser(string kind, int routeIndex)
    {
        var route = Routes[routeIndex];
        var sub = $"good-{kind.Length}-{routeIndex}";
        var now = DateTime.UtcNow;
        var token = kind switch
        {
            "valid" => Tokens.For(sub),
            "12 KB of claims (under the limit)" => WithManyClaims(sub, 12 * 1024),
            "expired 10 s ago (within the skew)" => Mint(sub, Hs256(Tokens.SigningKey), notBefore: now.AddMinutes(-10), expires: now.AddSeconds(-10)),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };

        using var response = await SendAsync(route, token);

        response.StatusCode.Should().Be(HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        (await api.ScalarAsync<long>("SELECT count(*) FROM users WHERE id = @sub", new { sub })).Should().Be(1);
    }

    private async Task<HttpResponseMessage> SendAsync((string Method, string Path, object? Body, string Policy) route, string token)
    {
        using var client = api.SocketClient();
        var request = new HttpRequestMessage(new HttpMethod(route.Method), route.Path);
        if (route.Body is not null) request.Content = JsonContent.Create(route.Body);
        // Added without validation: some forged tokens are not well-formed header values for HttpClient's parser.
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
        return await client.SendAsync(request);
    }

    private static string Forge(string attack, string sub)
    {
        var now = DateTime.UtcNow;
        using var rsa = RSA.Create(2048);
        var claims = ValidClaims(sub, now);
        return attack switch
        {
            "alg none" => Unsigned("""{"alg":"none","typ":"JWT"}""", claims, ""),
            "alg None (mixed case)" => Unsigned("""{"alg":"None","typ":"JWT"}""", claims, ""),
            "alg none keeping the real signature" => Unsigned("""{"alg":"none","typ":"JWT"}""", claims, Tokens.For(sub).Split('.')[2]),
            "RS256 with a fresh RSA key" => Mint(sub, new SigningCredentials(new RsaSecurityKey(rsa) { KeyId = "attacker" }, SecurityAlgorithms.RsaSha256)),
            "RS256 with the attacker's key embedded as jwk" => EmbeddedJwk(rsa, claims),
            "HS256 with the RSA public key (PEM) as the HMAC secret" => Mint(sub, Hs256Bytes(Encoding.UTF8.GetBytes(rsa.ExportSubjectPublicKeyInfoPem()))),
            "HS256 with the RSA public key (DER) as the HMAC secret" => Mint(sub, Hs256Bytes(rsa.ExportSubjectPublicKeyInfo())),
            "RS256 header over an HMAC of the real key" => Signed("""{"alg":"RS256","typ":"JWT"}""", claims,
                data => HMACSHA256.HashData(Encoding.UTF8.GetBytes(Tokens.SigningKey), data)),
            "HS512 with the real key (algorithm not allowed)" => Signed("""{"alg":"HS512","typ":"JWT"}""", claims,
                data => HMACSHA512.HashData(Encoding.UTF8.GetBytes(Tokens.SigningKey), data)),
            "claims changed after signing" => Tampered(Tokens.For(sub), sub),
            "wrong key" => Tokens.For(sub, key: "another-signing-key-that-is-long-enough-987654321"),
            "wrong issuer" => Tokens.For(sub, issuer: "https://evil.example"),
            "wrong audience" => Tokens.For(sub, audience: "another-api"),
            "no audience" => Mint(sub, Hs256(Tokens.SigningKey), audience: null),
            "expired 35 s ago (beyond the 30 s skew)" => Mint(sub, Hs256(Tokens.SigningKey), notBefore: now.AddMinutes(-10), expires: now.AddSeconds(-35)),
            "not valid for 10 minutes (nbf)" => Mint(sub, Hs256(Tokens.SigningKey), notBefore: now.AddMinutes(10), expires: now.AddMinutes(20)),
            "no exp" => Mint(sub, Hs256(Tokens.SigningKey), expires: null, withTimes: false),
            "missing sub" => Mint(null, Hs256(Tokens.SigningKey), extra: new Dictionary<string, object> { ["name"] = sub }),
            "empty sub" => Mint("", Hs256(Tokens.SigningKey), extra: new Dictionary<string, object> { ["name"] = sub }),
            "over 16 KB (many claims)" => WithManyClaims(sub, 18 * 1024),
            "empty signature" => string.Join('.', Tokens.For(sub).Split('.')[..2]) + ".",
            "two tokens in one header" => Tokens.For(sub) + " " + Tokens.For(sub + "-2"),
            _ => throw new ArgumentOutOfRangeException(nameof(attack), attack, null),
        };
    }

    private static SigningCredentials Hs256(string key) => Hs256Bytes(Encoding.UTF8.GetBytes(key));

    private static SigningCredentials Hs256Bytes(byte[] key) => new(new SymmetricSecurityKey(key), SecurityAlgorithms.HmacSha256);

    /// <summary>A token from <see cref="JsonWebTokenHandler"/>: issuer and audience of the service unless told otherwise.</summary>
    private static string Mint(string? sub, SigningCredentials credentials, string? audience = Tokens.Audience, string issuer = Tokens.Issuer,
        DateTime? notBefore = null, DateTime? expires = default, bool withTimes = true, Dictionary<string, object>? extra = null)
    {
        var now = DateTime.UtcNow;
        var claims = new Dictionary<string, object>(extra ?? []);
        if (sub is not null) claims["sub"] = sub;
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Claims = claims,
            SigningCredentials = credentials,
        };
        if (withTimes)
        {
            descriptor.NotBefore = notBefore ?? now.AddMinutes(-1);
            descriptor.IssuedAt = descriptor.NotBefore;
            descriptor.Expires = expires ?? now.AddMinutes(10);
        }
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = withTimes }.CreateToken(descriptor);
    }

    /// <summary>A properly signed token (the real key) whose payload carries enough claims to be at least <paramref name="bytes"/> long.</summary>
    private static string WithManyClaims(string sub, int bytes)
    {
        var extra = new Dictionary<string, object>();
        string token;
        do
        {
            for (var i = 0; i < 20; i++) extra[$"claim_{extra.Count:D4}"] = new string((char)('a' + extra.Count % 26), 48);
            token = Mint(sub, Hs256(Tokens.SigningKey), extra: extra);
        }
        while (token.Length < bytes);
        return token;
    }

    private static string ValidClaims(string sub, DateTime now)
    {
        var iat = new DateTimeOffset(now.AddMinutes(-1)).ToUnixTimeSeconds();
        var exp = new DateTimeOffset(now.AddMinutes(10)).ToUnixTimeSeconds();
        return $$"""{"sub":"{{sub}}","iss":"{{Tokens.Issuer}}","aud":"{{Tokens.Audience}}","iat":{{iat}},"nbf":{{iat}},"exp":{{exp}}}""";
    }

    private static string B64(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json));

    private static string Unsigned(string header, string claims, string signature) => $"{B64(header)}.{B64(claims)}.{signature}";

    private static string Signed(string header, string claims, Func<byte[], byte[]> sign)
    {
        var input = $"{B64(header)}.{B64(claims)}";
        return input + "." + Base64UrlEncoder.Encode(sign(Encoding.ASCII.GetBytes(input)));
    }

    /// <summary>RS256 signed by the attacker, with the attacker's public key in the header (CVE-2018-0114 style).</summary>
    private static string EmbeddedJwk(RSA rsa, string claims)
    {
        var p = rsa.ExportParameters(false);
        var header = $$$"""{"alg":"RS256","typ":"JWT","jwk":{"kty":"RSA","e":"{{{Base64UrlEncoder.Encode(p.Exponent)}}}","n":"{{{Base64UrlEncoder.Encode(p.Modulus)}}}"}}""";
        return Signed(header, claims, data => rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }

    /// <summary>A valid token whose payload is replaced (another sub, an admin role) while its signature is kept.</summary>
    private static string Tampered(string token, string sub)
    {
        var parts = token.Split('.');
        var payload = Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(parts[1]));
        var forged = payload.Replace($"\"sub\":\"{sub}\"", $"\"sub\":\"{sub}\",\"role\":\"admin\"");
        forged.Should().NotBe(payload);
        return $"{parts[0]}.{B64(forged)}.{parts[2]}";
    }
}
