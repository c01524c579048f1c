using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Tests.Security;
using ChatSlices.Tests.Support;
using FluentAssertions.Execution;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace ChatSlices.Tests.Infrastructure;

public class OpenApiTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task OpenApiDocument_HasTheBearerScheme_AndSnakeCaseSchemas()
    {
        var json = await api.CreateClient().GetStringAsync("/openapi/v1.json");
        var doc = JsonDocument.Parse(json).RootElement;

        doc.GetProperty("info").GetProperty("title").GetString().Should().Be("ChatSlices API");
        doc.GetProperty("components").GetProperty("securitySchemes").GetProperty("Bearer").GetProperty("scheme").GetString().Should().Be("bearer");
        json.Should().Contain("\"last_seen_at\"").And.NotContain("\"LastSeenAt\"");
    }

    [Fact]
    public async Task OpenApiDocument_ListsEveryRouteOfTheApp_WithTheStatusesItsPolicyImplies()
    {
        var doc = JsonDocument.Parse(await api.CreateClient().GetStringAsync("/openapi/v1.json")).RootElement;
        var operations = doc.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Where(op => op.Name != "parameters")
                .Select(op => (Key: $"{op.Name.ToUpperInvariant()} {path.Name}", Operation: op.Value)))
            .ToDictionary(o => o.Key, o => o.Operation);
        var routes = RouteInfo.All(api.Services).Where(r => r.Pattern.StartsWith("/v1/", StringComparison.Ordinal)).ToList();

        operations.Keys.Should().BeEquivalentTo(routes.Select(r => r.Key));
        using var scope = new AssertionScope();
        foreach (var route in routes)
        {
            var operation = operations[route.Key];
            var statuses = operation.GetProperty("responses").EnumerateObject().Select(r => r.Name).ToList();
            var policies = route.Policy?.Split(',') ?? [];
            statuses.Should().Contain(["429", "503"], route.Key);
            if (policies.Length > 0) statuses.Should().Contain("401", route.Key);
            if (policies.Contains(AuthSetup.AdminPolicy)) statuses.Should().Contain("403", route.Key);
            if (operation.TryGetProperty("requestBody", out var body) && body.GetProperty("content").TryGetProperty("application/json", out _))
                statuses.Should().Contain(["400", "422"], route.Key);

            // Each requirement is an alternative: an empty one means "no token", so only optional routes may have it.
            var requirements = operation.TryGetProperty("security", out var security)
                ? security.EnumerateArray().Select(r => string.Join(",", r.EnumerateObject().Select(s => s.Name))).ToList()
                : [];
            var expected = policies.Length == 0 ? [] : policies.Contains(AuthSetup.OptionalPolicy) ? new[] { "", "Bearer" } : ["Bearer"];
            requirements.Should().Equal(expected, route.Key);
        }
    }

    [Fact]
    public async Task OpenApiDocument_ListsItsTags_InTheReferenceOrder_EachOnce_AndEachOperationUnderOne()
    {
        var doc = JsonDocument.Parse(await api.CreateClient().GetStringAsync("/openapi/v1.json")).RootElement;
        var tags = doc.GetProperty("tags").EnumerateArray().Select(t => t.GetProperty("name").GetString()!).ToList();
        var operationTags = doc.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Where(op => op.Name != "parameters")
                .Select(op => (Key: $"{op.Name.ToUpperInvariant()} {path.Name}",
                    Tags: op.Value.GetProperty("tags").EnumerateArray().Select(t => t.GetString()!).ToList())))
            .ToList();

        string[] expected = ["Chat", "Sessions", "Files", "Assistants", "Prompts", "Models", "Usage", "Users", "Admin"];
        if (operationTags.Any(o => o.Tags.Contains("Operations"))) expected = [.. expected, "Operations"];
        tags.Should().Equal(expected);
        using var scope = new AssertionScope();
        foreach (var (key, operation) in operationTags) operation.Should().ContainSingle(key).Which.Should().BeOneOf(tags);
        operationTags.Should().Contain(o => o.Key == "POST /v1/chat/sessions/{id}/upload").Which.Tags.Should().Equal("Files");
        operationTags.Should().Contain(o => o.Key == "GET /v1/chat/sessions/{id}/files").Which.Tags.Should().Equal("Files");
        operationTags.Should().Contain(o => o.Key == "POST /v1/chat/sessions/{id}/messages").Which.Tags.Should().Equal("Sessions");
        operationTags.Should().Contain(o => o.Key == "DELETE /v1/assistants/{id}/cache").Which.Tags.Should().Equal("Assistants");
    }

    [Fact]
    public async Task ScalarPage_AtScalar_IsServedWithItsBundle_FromTheService()
    {
        var client = api.CreateClient();

        // /scalar redirects to /scalar/ (the page's script paths are relative to it).
        var page = await client.GetAsync("/scalar");
        page.StatusCode.Should().Be(HttpStatusCode.OK);
        page.RequestMessage!.RequestUri!.AbsolutePath.Should().Be("/scalar/");
        page.Content.Headers.ContentType!.MediaType.Should().Be("text/html");
        var html = await page.Content.ReadAsStringAsync();
        html.Should().Contain("<title>ChatSlices API reference</title>").And.Contain("src=\"scalar.js\"").And.NotContain("cdn");

        var bundle = await client.GetAsync("/scalar/scalar.js");
        bundle.StatusCode.Should().Be(HttpStatusCode.OK);
        bundle.Content.Headers.ContentType!.MediaType.Should().Be("text/javascript");
        (await bundle.Content.ReadAsByteArrayAsync()).Length.Should().BeGreaterThan(100_000);
    }

    [Fact]
    public async Task ScalarPage_PreselectsTheDocumentsBearerScheme_AndReadsTheDocument()
    {
        var client = api.CreateClient();
        var html = await client.GetStringAsync("/scalar/");
        var doc = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json")).RootElement;

        // The page passes its configuration to Scalar as a JSON object literal: initialize(path, dynamicBaseUrl, {…}, module).
        var literal = Regex.Match(html, @"initialize\(\s*'[^']*',\s*\w+,\s*(?<config>\{.*\}),\s*'[^']*'\)", RegexOptions.Singleline);
        literal.Success.Should().BeTrue("the page should hand Scalar its configuration:\n" + html);
        var config = JsonDocument.Parse(literal.Groups["config"].Value).RootElement;

        var preferred = config.GetProperty("authentication").GetProperty("preferredSecurityScheme").EnumerateArray().Select(s => s.GetString()).ToList();
        preferred.Should().Equal("Bearer");
        doc.GetProperty("components").GetProperty("securitySchemes").TryGetProperty(preferred[0]!, out _).Should().BeTrue("the preselected scheme is the document's");
        config.GetProperty("sources").EnumerateArray().Select(s => s.GetProperty("url").GetString()).Should().Equal("openapi/v1.json");
        // Nothing from elsewhere: no CDN fonts, no telemetry, no hosted AI agent.
        config.GetProperty("withDefaultFonts").GetBoolean().Should().BeFalse();
        config.GetProperty("telemetry").GetBoolean().Should().BeFalse();
        config.GetProperty("agent").GetProperty("disabled").GetBoolean().Should().BeTrue();
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
            // The operations are listed by their summaries, and the bearer scheme is the one selected for trying them.
            (await dom).Should().Contain("Streaming LLM chat with sessions, documents, assistants and cost control.")
                .And.Contain("references-rendered")
                .And.Contain("Use another model for the session")
                .And.Contain("Selected Auth Type: Bearer");
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }
}
