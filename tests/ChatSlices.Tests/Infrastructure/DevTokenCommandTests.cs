using System.Net;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Tests.Support;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;

namespace ChatSlices.Tests.Infrastructure;

public class DevTokenCommandTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static IConfiguration Config(string? key) => new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["Auth:SigningKey"] = key, ["Auth:Issuer"] = Tokens.Issuer, ["Auth:Audience"] = Tokens.Audience,
    }).Build();

    [Fact]
    public async Task MintedToken_IsAcceptedByTheService_WithItsRoleAndTier()
    {
        var output = new StringWriter();
        var code = DevTokenCommand.Run(Config(Tokens.SigningKey), ["--sub", "grace", "--role", "admin", "--tier", "enterprise"], output, TextWriter.Null);

        code.Should().Be(0);
        var client = api.ClientFor(output.ToString().Trim());
        var me = await client.GetStringAsync("/v1/users/me");
        me.Should().Contain("\"tier\":\"enterprise\"").And.Contain("\"roles\":[\"admin\"]");
        (await client.GetAsync("/v1/admin/users")).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public void WithoutASigningKey_TheCommandRefuses()
    {
        var error = new StringWriter();

        DevTokenCommand.Run(Config(null), ["--sub", "grace"], TextWriter.Null, error).Should().NotBe(0);
        error.ToString().Should().Contain("SigningKey");
    }

    [Fact]
    public void WithoutSub_TheCommandPrintsUsage()
    {
        var error = new StringWriter();

        DevTokenCommand.Run(Config(Tokens.SigningKey), ["--role", "admin"], TextWriter.Null, error).Should().NotBe(0);
        error.ToString().Should().Contain("usage");
    }
}

public class StartupGuardTests
{
    [Fact]
    public async Task OutsideDevelopment_TheDevelopmentKeyIsRefused()
    {
        await using var api = new ApiFactory()
            .With("ConnectionStrings:Postgres", TestDatabase.AdminConnectionString)
            .With("Auth:SigningKey", AuthSettings.DevelopmentKeyPrefix + "0123456789012345678901234567890123456789");
        var production = api.WithWebHostBuilder(b => b.UseEnvironment("Production"));

        var start = () => production.CreateClient();

        start.Should().Throw<InvalidOperationException>().WithMessage("*development signing key*");
    }
}
