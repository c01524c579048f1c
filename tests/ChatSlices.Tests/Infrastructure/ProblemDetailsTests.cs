using System.Net;
using ChatSlices.Tests.Support;
using Npgsql;

namespace ChatSlices.Tests.Infrastructure;

public class ProblemDetailsTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task UnknownRoute_Is404Problem()
    {
        var response = await api.UserClient("u1").GetAsync("/v1/no-such-thing");

        await response.ShouldBeProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task WrongMethod_Is405Problem()
    {
        var response = await api.UserClient("u1").DeleteAsync("/v1/models");

        await response.ShouldBeProblemAsync(HttpStatusCode.MethodNotAllowed);
    }

    [Fact]
    public async Task InvalidQueryValue_Is422WithTheFieldNamed()
    {
        var response = await api.AdminClient().GetAsync("/v1/admin/users?skip=-1&limit=5000");

        var problem = await response.ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
        problem.GetProperty("errors").GetProperty("limit").EnumerateArray().Should().NotBeEmpty();
        problem.GetProperty("errors").GetProperty("skip").EnumerateArray().Should().NotBeEmpty();
    }

    [Fact]
    public async Task UnparsableQueryValue_Is422WithTheFieldNamed()
    {
        var response = await api.AdminClient().GetAsync("/v1/admin/users?limit=lots");

        var problem = await response.ShouldBeProblemAsync(HttpStatusCode.UnprocessableEntity);
        problem.GetProperty("errors").GetProperty("limit").EnumerateArray().Should().NotBeEmpty();
    }

    [Fact]
    public async Task UnexpectedFailure_Is500WithATraceIdAndNothingInternal()
    {
        await using (var conn = new NpgsqlConnection(api.ConnectionString))
        {
            await conn.OpenAsync();
            // Breaks the one query GET /v1/admin/users runs, without touching the connection.
            await using var cmd = new NpgsqlCommand("ALTER TABLE users RENAME COLUMN email TO email_broken", conn);
            await cmd.ExecuteNonQueryAsync();
        }
        try
        {
            var response = await api.AdminClient().GetAsync("/v1/admin/users");

            var problem = await response.ShouldBeProblemAsync(HttpStatusCode.InternalServerError);
            problem.GetRawText().Should().NotContainAny("email_broken", "42703", "column");
        }
        finally
        {
            await using var conn = new NpgsqlConnection(api.ConnectionString);
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand("ALTER TABLE users RENAME COLUMN email_broken TO email", conn);
            await cmd.ExecuteNonQueryAsync();
        }
    }
}
