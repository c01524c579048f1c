using System.Net;
using ChatSlices.Tests.Support;
using Npgsql;

namespace ChatSlices.Tests.Infrastructure;

public class HealthTests : IAsyncLifetime
{
    private readonly ApiFactory _api = new();
    private TcpProxy _proxy = null!;

    public async Task InitializeAsync()
    {
        await _api.InitializeAsync();
        var target = new NpgsqlConnectionStringBuilder(_api.ConnectionString);
        _proxy = new TcpProxy(target.Host!, target.Port);
        var throughProxy = new NpgsqlConnectionStringBuilder(_api.ConnectionString) { Host = "127.0.0.1", Port = _proxy.Port, Timeout = 3 };
        _api.With("ConnectionStrings:Postgres", throughProxy.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        await _proxy.DisposeAsync();
    }

    [Fact]
    public async Task Live_IsUp_WithoutTheDatabase()
    {
        var client = _api.CreateClient();
        _proxy.Available = false;

        (await client.GetAsync("/health/live")).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Ready_Is503WhileTheDatabaseIsUnreachable_AndHealthyWhenItReturns()
    {
        var client = _api.CreateClient();
        (await client.GetAsync("/health/ready")).StatusCode.Should().Be(HttpStatusCode.OK);

        _proxy.Available = false;
        var down = await client.GetAsync("/health/ready");
        down.StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
        (await down.Content.ReadAsStringAsync()).Should().Be("Unhealthy");

        _proxy.Available = true;
        (await client.GetAsync("/health/ready")).StatusCode.Should().Be(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Ready_StaysHealthy_WhenANewerInstanceAppliedAMigrationThisBuildDoesNotKnow_ButNotWhenOneOfItsOwnIsMissing()
    {
        var client = _api.CreateClient();
        await using var db = new NpgsqlConnection(_api.ConnectionString);
        await db.OpenAsync();

        await Execute(db, "INSERT INTO schema_migrations (version, name) VALUES (99999, 'from_a_newer_build')");
        (await client.GetAsync("/health/ready")).StatusCode.Should().Be(HttpStatusCode.OK);

        await Execute(db, "DELETE FROM schema_migrations WHERE version = 1");
        (await client.GetAsync("/health/ready")).StatusCode.Should().Be(HttpStatusCode.ServiceUnavailable);
    }

    private static async Task Execute(NpgsqlConnection db, string sql)
    {
        await using var command = new NpgsqlCommand(sql, db);
        await command.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task ApiRequest_WhileTheDatabaseIsUnreachable_Is503Problem()
    {
        var client = _api.UserClient("eve");
        (await client.GetAsync("/v1/users/me")).StatusCode.Should().Be(HttpStatusCode.OK);

        _proxy.Available = false;
        var response = await _api.UserClient("frank").GetAsync("/v1/users/me");

        await response.ShouldBeProblemAsync(HttpStatusCode.ServiceUnavailable);
        response.Headers.RetryAfter.Should().NotBeNull();
    }
}
