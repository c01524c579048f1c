using System.Diagnostics;
using System.Net;
using System.Text.Json;
using ChatSlices.Tests.Support;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace ChatSlices.Tests.Infrastructure;

public class OpenApiTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task OpenApiDocument_ListsTheRoutes_WithTheBearerScheme_AndSnakeCaseSchemas()
    {
        var json = await api.CreateClient().GetStringAsync("/openapi/v1.json");
        var doc = JsonDocument.Parse(json).RootElement;

        doc.GetProperty("info").GetProperty("title").GetString().Should().Be("ChatSlices API");
        var paths = doc.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        paths.Should().Contain(["/v1/models", "/v1/users/me", "/v1/admin/users"]);
        doc.GetProperty("components").GetProperty("securitySchemes").GetProperty("Bearer").GetProperty("scheme").GetString().Should().Be("bearer");

        var me = doc.GetProperty("paths").GetProperty("/v1/users/me").GetProperty("get");
        me.GetProperty("security").GetArrayLength().Should().Be(1);
        me.GetProperty("responses").EnumerateObject().Select(r => r.Name).Should().Contain(["200", "401"]);
        json.Should().Contain("\"last_seen_at\"").And.NotContain("\"LastSeenAt\"");
    }

    [Fact]
    public async Task ScalarPage_ReferencesTheLocalBundle_AndTheBundleIsServed()
    {
        var client = api.CreateClient();

        var page = await client.GetAsync("/scalar");
        page.StatusCode.Should().Be(HttpStatusCode.OK);
        page.Content.Headers.ContentType!.MediaType.Should().Be("text/html");
        var html = await page.Content.ReadAsStringAsync();
        html.Should().Contain("src=\"/scalar/standalone.js\"").And.Contain("/openapi/v1.json").And.NotContain("cdn");

        var bundle = await client.GetAsync("/scalar/standalone.js");
        bundle.StatusCode.Should().Be(HttpStatusCode.OK);
        bundle.Content.Headers.ContentType!.MediaType.Should().Be("text/javascript");
        (await bundle.Content.ReadAsByteArrayAsync()).Length.Should().BeGreaterThan(100_000);
    }
}

/// <summary>Loads /scalar in headless Chromium from a real Kestrel port and finds what Scalar rendered from the document.</summary>
public class ScalarInBrowserTests : IAsyncLifetime
{
    private readonly ApiFactory _api = new();

    public async Task InitializeAsync()
    {
        await _api.InitializeAsync();
        _api.UseKestrel(0);
        _api.StartServer();
    }

    public async Task DisposeAsync() => await _api.DisposeAsync();

    [Fact]
    public async Task ScalarPage_RendersTheApiDocument_InHeadlessChromium()
    {
        var address = _api.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var chromium = Environment.GetEnvironmentVariable("CHROMIUM_PATH") ?? "/usr/bin/chromium";
        File.Exists(chromium).Should().BeTrue("test.sh installs Debian's chromium");
        var profile = Directory.CreateTempSubdirectory("chromium-profile");
        try
        {
            var start = new ProcessStartInfo(chromium)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                ArgumentList =
                {
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    $"--user-data-dir={profile.FullName}", "--virtual-time-budget=20000", "--dump-dom", $"{address}/scalar",
                },
            };
            using var process = Process.Start(start)!;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            var dom = process.StandardOutput.ReadToEndAsync(timeout.Token);
            _ = process.StandardError.ReadToEndAsync(timeout.Token);
            try { await process.WaitForExitAsync(timeout.Token); }
            finally { if (!process.HasExited) process.Kill(entireProcessTree: true); }

            // The description exists only in /openapi/v1.json: it is in the DOM only if Scalar fetched and rendered it.
            (await dom).Should().Contain("Streaming LLM chat with sessions, documents, assistants and cost control.")
                .And.Contain("references-rendered");
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }
}
