using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChatSlices.Tests.Support;
using Npgsql;

namespace ChatSlices.Tests.Infrastructure;

public class AuthTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task ValidToken_IsAccepted_AndTheUserIsRecordedOnFirstSight()
    {
        var response = await api.ClientFor(Tokens.For("alice", tier: "pro", name: "Alice", azp: "web-app")).GetAsync("/v1/users/me");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var me = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        me.GetProperty("id").GetString().Should().Be("alice");
        me.GetProperty("tier").GetString().Should().Be("pro");
        me.GetProperty("application_id").GetString().Should().Be("web-app");

        await using var conn = new NpgsqlConnection(api.ConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT name || '/' || tier FROM users WHERE id = 'alice'", conn);
        (await cmd.ExecuteScalarAsync()).Should().Be("Alice/pro");
    }

    public static TheoryData<string, string> BadTokens() => new()
    {
        { "expired", Tokens.For("bob", expires: DateTime.UtcNow.AddMinutes(-5)) },
        { "wrong key", Tokens.For("bob", key: "another-signing-key-that-is-long-enough-987654321") },
        { "wrong issuer", Tokens.For("bob", issuer: "someone-else") },
        { "wrong audience", Tokens.For("bob", audience: "another-api") },
        { "alg none", Tokens.Unsigned("bob") },
        { "garbage", "not-a-jwt" },
    };

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task BadToken_OnAnAuthenticatedRoute_Is401WithABearerChallenge(string why, string token)
    {
        var response = await api.ClientFor(token).GetAsync("/v1/users/me");

        await response.ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
        response.Headers.WwwAuthenticate.Should().ContainSingle(h => h.Scheme == "Bearer", why);
    }

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task BadToken_OnAnOptionalAuthRoute_Is401NotAGuest(string why, string token)
    {
        var response = await api.ClientFor(token).GetAsync("/v1/models");

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized, why);
    }

    [Fact]
    public async Task NoToken_OnAnOptionalAuthRoute_IsAGuest()
    {
        var response = await api.ClientFor(null).GetAsync("/v1/models");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task NoToken_OnAnAuthenticatedRoute_Is401()
    {
        var response = await api.ClientFor(null).GetAsync("/v1/users/me");

        await response.ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
        response.Headers.WwwAuthenticate.Should().Contain(h => h.Scheme == "Bearer");
    }

    [Theory]
    [InlineData("GET", "/v1/tokens/usage")]
    [InlineData("GET", "/v1/chat/history")]
    [InlineData("POST", "/v1/chat/switch-model")]
    [InlineData("GET", "/v1/admin/users")]
    public async Task NoToken_OnAUserOrAdminRoute_Is401WithABearerChallenge_BeforeTheBodyIsRead(string method, string path)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST") request.Content = JsonContent.Create(new { session_id = Guid.NewGuid(), model = "local-chat" });

        var response = await api.ClientFor(null).SendAsync(request);

        await response.ShouldBeProblemAsync(HttpStatusCode.Unauthorized);
        response.Headers.WwwAuthenticate.Should().Contain(h => h.Scheme == "Bearer");
    }

    [Fact]
    public async Task TokenWithoutSub_Is401()
    {
        var token = new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().CreateToken(new Microsoft.IdentityModel.Tokens.SecurityTokenDescriptor
        {
            Issuer = Tokens.Issuer,
            Audience = Tokens.Audience,
            Expires = DateTime.UtcNow.AddMinutes(5),
            SigningCredentials = new(new Microsoft.IdentityModel.Tokens.SymmetricSecurityKey(System.Text.Encoding.UTF8.GetBytes(Tokens.SigningKey)), "HS256"),
        });

        var response = await api.ClientFor(token).GetAsync("/v1/users/me");

        response.StatusCode.Should().Be(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task AdminRoute_WithANonAdminToken_Is403()
    {
        var response = await api.UserClient("carol").GetAsync("/v1/admin/users");

        await response.ShouldBeProblemAsync(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task AdminRoute_WithAnAdminToken_ListsTheUsersSeen()
    {
        await api.UserClient("dave").GetAsync("/v1/users/me");

        var response = await api.ClientFor(Tokens.For("root", roles: ["user", "admin"])).GetAsync("/v1/admin/users?limit=1000");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        body.GetProperty("items").EnumerateArray().Select(u => u.GetProperty("id").GetString()).Should().Contain(["dave", "root"]);
        body.GetProperty("total").GetInt64().Should().BeGreaterThanOrEqualTo(2);
    }
}

public class BlankIssuerTests : IAsyncLifetime
{
    private readonly ApiFactory _api = new();

    public async Task InitializeAsync()
    {
        await _api.InitializeAsync();
        _api.With("Auth:Issuer", "");
    }

    public async Task DisposeAsync() => await _api.DisposeAsync();

    [Fact]
    public async Task BlankIssuerSetting_ExpectsTheDefaultIssuer()
    {
        var response = await _api.ClientFor(Tokens.For("blank-issuer", issuer: "chatslices")).GetAsync("/v1/users/me");

        response.StatusCode.Should().Be(HttpStatusCode.OK);
    }
}
