using System.Net;
using ChatSlices.Infrastructure.Endpoints;

namespace ChatSlices.Infrastructure.OpenApi;

/// <summary>The Scalar API reference, served with its bundle from this service (no CDN; works offline).</summary>
public sealed class ScalarEndpoints : IEndpointModule
{
    public const string BundleSetting = "Scalar:BundlePath";
    private const string DefaultBundle = "wwwroot/scalar/standalone.js";

    public static void Map(IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/scalar").ExcludeFromDescription();
        group.MapGet("", Page);
        group.MapGet("/standalone.js", Bundle);
    }

    private static IResult Page(HttpContext http)
    {
        var pathBase = WebUtility.HtmlEncode(http.Request.PathBase.Value ?? "");
        var html = $$"""
            <!doctype html>
            <html lang="en">
            <head>
              <meta charset="utf-8">
              <meta name="viewport" content="width=device-width, initial-scale=1">
              <title>ChatSlices API reference</title>
            </head>
            <body>
              <div id="app"></div>
              <script src="{{pathBase}}/scalar/standalone.js"></script>
              <script>Scalar.createApiReference('#app', { url: '{{pathBase}}/openapi/v1.json', hideClientButton: true, withDefaultFonts: false });</script>
            </body>
            </html>
            """;
        return TypedResults.Content(html, "text/html; charset=utf-8");
    }

    private static IResult Bundle(IConfiguration configuration, IWebHostEnvironment environment)
    {
        var path = Path.Combine(environment.ContentRootPath, configuration[BundleSetting] ?? DefaultBundle);
        if (!File.Exists(path))
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Service Unavailable",
                detail: "The Scalar bundle is not installed; ./run.sh fetches it.");
        return TypedResults.PhysicalFile(path, "text/javascript; charset=utf-8", enableRangeProcessing: false);
    }
}
