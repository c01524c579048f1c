using System.Net;
using System.Text;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Tests.Support;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ChatSlices.Tests.Infrastructure;

/// <summary>The service behind an OIDC authority (<see cref="TestAuthority"/>): discovery, JWKS, RS/PS/ES algorithms only.</summary>
public sealed class OidcApiFactory : ApiFactory
{
    public TestAuthority Authority { get; } = new();

    public OidcApiFactory()
    {
        // The HS256 key stays configured: with an authority set it must be ignored.
        With("Auth:Authority", Authority.Issuer).With("Auth:RequireHttpsMetadata", "false").With("Auth:Issuer", "");
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Authority.DisposeAsync();
    }
}

public class OidcTests(OidcApiFactory api) : IClassFixture<OidcApiFactory>
{
    private async Task<HttpResponseMessage> MeAsync(string token) => await api.ClientFor(token).GetAsync("/v1/users/me");

    [Theory]
    [InlineData("RS256")]
    [InlineData("PS256")]
    [InlineData("ES256")]
    public async Task ATokenFromTheAuthority_IsAccepted(string algorithm)
    {
        var key = algorithm switch { "RS256" => api.Authority.Rsa, "PS256" => api.Authority.Ps, _ => api.Authority.Ec };
        key.Algorithm.Should().Be(algorithm);

        var me = await (await MeAsync(api.Authority.Token($"oidc-{algorithm}", key))).ShouldBeJsonAsync(HttpStatusCode.OK);

        me.Str("id").Should().Be($"oidc-{algorithm}");
    }

    [Fact]
    public async Task RolesInTheAuthoritysToken_AreHonoured()
    {
        (await api.ClientFor(api.Authority.Token("oidc-admin", api.Authority.Ec, roles: ["admin"])).GetAsync("/v1/admin/users")).StatusCode.Should().Be(HttpStatusCode.OK);
        await (await api.ClientFor(api.Authority.Token("oidc-plain", api.Authority.Ec)).GetAsync("/v1/admin/users")).ShouldBeProblemAsync(HttpStatusCode.Forbidden);
    }

    [Theory]
    [InlineData("a key the authority does not publish, under an unknown kid")]
    [InlineData("a key the authority does not publish, under the kid of one it does")]
    [InlineData("an EC key the authority does not publish, under the kid of its EC key")]
    public async Task ATokenSignedByAnUnknownKey_IsRefused(string what)
    {
        var key = what switch
        {
            _ when what.Contains("unknown kid") => TestAuthority.NewRsaKey("stranger"),
            _ when what.Contains("EC") => TestAuthority.NewEcKey(api.Authority.Ec.Kid),
            _ => TestAuthority.NewRsaKey(api.Authority.Rsa.Kid),
        };

        var response = await MeAsync(api.Authority.Token("intruder", key));

        await response.ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
        response.Headers.WwwAuthenticate.Should().Contain(h => h.Scheme == "Bearer");
    }

    [Fact]
    public async Task HS256Tokens_AreRefused_WhileAnAuthorityIsSet()
    {
        // Signed with the configured HS256 key: once with its own issuer, once claiming the authority's.
        var ownIssuer = Tokens.For("hs-user");
        var authorityIssuer = Tokens.For("hs-user", issuer: api.Authority.Issuer);
        // Algorithm confusion: HS256 with the authority's published RSA key (its modulus and exponent) as the secret.
        var jwk = api.Authority.Rsa.Jwk();
        var confused = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = api.Authority.Issuer, Audience = Tokens.Audience, Expires = DateTime.UtcNow.AddMinutes(5),
            Claims = new Dictionary<string, object> { ["sub"] = "hs-user" },
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(jwk["n"] + jwk["e"])) { KeyId = api.Authority.Rsa.Kid }, SecurityAlgorithms.HmacSha256),
        });

        foreach (var token in new[] { ownIssuer, authorityIssuer, confused })
            await (await MeAsync(token)).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
        (await MeAsync(api.Authority.Token("hs-user", api.Authority.Rsa))).StatusCode.Should().Be(HttpStatusCode.OK, "the same caller with the authority's token gets in");
    }

    [Fact]
    public async Task ATokenForAnotherAudience_IsRefused()
    {
        await (await MeAsync(api.Authority.Token("elsewhere", api.Authority.Rsa, audience: "another-api"))).ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
    }
}

public class AuthoritySettingsTests
{
    [Theory]
    [InlineData("https://login.example.com/realms/chat", false, true)]
    [InlineData("http://127.0.0.1:8080", true, true)]
    [InlineData("http://login.example.com", false, false)]
    public void AnAuthority_MustBeHttps_UnlessHttpMetadataIsAllowed(string authority, bool allowHttp, bool starts)
    {
        var settings = new AuthSettings { Authority = authority, RequireHttpsMetadata = !allowHttp };

        var problem = settings.Problem(new HostingEnvironment { EnvironmentName = Environments.Production });

        (problem is null).Should().Be(starts, problem);
    }
}

/// <summary>Key rotation, on a service of its own: no earlier unknown <c>kid</c> has used up its JWKS refresh.</summary>
public class OidcKeyRotationTests : IAsyncLifetime
{
    private readonly OidcApiFactory _api = new();

    public Task InitializeAsync() => _api.InitializeAsync();

    public async Task DisposeAsync() => await _api.DisposeAsync();

    [Fact]
    public async Task ARotatedKey_IsPickedUpWithoutARestart_AndTheRetiredKeyIsRefused()
    {
        var authority = _api.Authority;
        var client = _api.ClientFor(null);
        async Task<HttpStatusCode> MeAsync(string token)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/users/me") { Headers = { Authorization = new("Bearer", token) } };
            return (await client.SendAsync(request)).StatusCode;
        }
        (await MeAsync(authority.Token("rotating", authority.Rsa))).Should().Be(HttpStatusCode.OK);
        var fetchesBefore = authority.JwksRequests;

        var rotated = authority.RotateRsa();

        (await MeAsync(authority.Token("rotating", rotated))).Should().Be(HttpStatusCode.OK, "the first token signed with the new key is accepted");
        (await MeAsync(authority.Token("rotating", rotated))).Should().Be(HttpStatusCode.OK);
        authority.JwksRequests.Should().Be(fetchesBefore + 1, "the new kid made the service fetch the JWKS once");
        (await MeAsync(authority.Token("rotating", authority.Rsa))).Should().Be(HttpStatusCode.Unauthorized, "the authority no longer publishes the old key");
    }

    [Fact]
    public async Task TokensWithMadeUpKids_MakeTheServiceFetchTheKeysOnce_NotOncePerToken()
    {
        var authority = _api.Authority;
        var client = _api.ClientFor(null);
        async Task<HttpStatusCode> MeAsync(string token)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/users/me") { Headers = { Authorization = new("Bearer", token) } };
            return (await client.SendAsync(request)).StatusCode;
        }
        (await MeAsync(authority.Token("guesser", authority.Ec))).Should().Be(HttpStatusCode.OK);
        var fetchesBefore = authority.JwksRequests;

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++) statuses.Add(await MeAsync(authority.Token("guesser", TestAuthority.NewRsaKey($"made-up-{i}"))));

        statuses.Should().AllBeEquivalentTo(HttpStatusCode.Unauthorized);
        authority.JwksRequests.Should().Be(fetchesBefore + 1, "an unknown kid refreshes the keys at most once a minute");
        (await MeAsync(authority.Token("guesser", authority.Ec))).Should().Be(HttpStatusCode.OK);
    }
}
