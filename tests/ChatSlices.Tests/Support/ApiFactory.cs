using Npgsql;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ChatSlices.Tests.Support;

/// <summary>The real service over a database of its own. Use as a class fixture.</summary>
public class ApiFactory : WebApplicationFactory<Program>, IAsyncLifetime
{
    private readonly Dictionary<string, string?> _settings = new()
    {
        ["Auth:SigningKey"] = Tokens.SigningKey,
        ["Auth:Issuer"] = Tokens.Issuer,
        ["Auth:Audience"] = Tokens.Audience,
        ["Logging:LogLevel:Default"] = "Warning",
        // Generous limits, so that only the rate-limit tests (which set their own) ever meet them.
        ["RateLimits:Tiers:guest:RequestsPerMinute"] = "100000",
        ["RateLimits:Tiers:guest:ConcurrentStreams"] = "1000",
        ["RateLimits:Tiers:guest:TokensPerDay"] = "1000000000",
        ["RateLimits:Tiers:free:RequestsPerMinute"] = "100000",
        ["RateLimits:Tiers:free:ConcurrentStreams"] = "1000",
        ["RateLimits:Tiers:free:TokensPerDay"] = "1000000000",
        ["RateLimits:Tiers:free:UploadsPerDay"] = "100000",
        ["RateLimits:Tiers:free:UploadBytesPerDay"] = "100000000000",
        // A stream whose reader leaves is cancelled at once, as before resumable streams; their tests set a grace.
        ["Chat:ResumeGraceSeconds"] = "0",
        // A title request after each new session's first reply would be one more upstream call in every test that counts
        // them; SessionTitlesTests turn it on.
        ["Chat:GenerateTitles"] = "false",
    };

    public string ConnectionString { get; private set; } = "";

    /// <summary>Set before the server starts; later settings win.</summary>
    /// <summary>Runs SQL against this factory's own database (e.g. a trigger a test class needs).</summary>
    public async Task ExecuteAsync(string sql)
    {
        await using var conn = new NpgsqlConnection(ConnectionString);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }

    public ApiFactory With(string key, string? value)
    {
        _settings[key] = value;
        return this;
    }

    public virtual async Task InitializeAsync()
    {
        ConnectionString = await TestDatabase.CreateMigratedAsync();
        _settings.TryAdd("ConnectionStrings:Postgres", ConnectionString);
    }

    public new virtual async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (ConnectionString.Length > 0) await TestDatabase.DropAsync(ConnectionString);
    }

    /// <summary>Service replacements (e.g. a clock), applied after the service's own registrations.</summary>
    public Action<IServiceCollection>? ReplaceServices { get; set; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.ConfigureAppConfiguration((_, config) => config.AddInMemoryCollection(_settings));
        if (ReplaceServices is { } replace) builder.ConfigureServices(replace);
    }

    public HttpClient ClientFor(string? token)
    {
        var client = CreateClient();
        if (token is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public HttpClient UserClient(string sub, string? tier = null) => ClientFor(Tokens.For(sub, tier: tier));

    public HttpClient AdminClient(string sub = "admin-1") => ClientFor(Tokens.Admin(sub));
}
