using Carter;
using Scalar.AspNetCore;

namespace ChatSlices.Infrastructure.OpenApi;

/// <summary>
/// The Scalar API reference at <c>/scalar/</c> (<c>/scalar</c> redirects there), for <c>/openapi/v1.json</c>, with the
/// bearer scheme preselected: a token pasted once goes with every request tried from the page. Its bundle
/// (<c>/scalar/scalar.js</c>) is served from the Scalar.AspNetCore assembly, and the page asks nothing of anyone else:
/// no CDN fonts, no telemetry, no AI agent, no toolbar of hosted services. It works offline.
/// </summary>
public sealed class ScalarEndpoints : ICarterModule
{
    public const string Title = "ChatSlices API reference";

    public void AddRoutes(IEndpointRouteBuilder app) => app.MapScalarApiReference(scalar => scalar
        .WithTitle(Title)
        .AddPreferredSecuritySchemes([OpenApiSetup.BearerScheme])
        // Scalar lists the schemas under "Models": a second "Models" beside the tag. Each operation shows its schemas.
        .HideModels()
        .HideClientButton()
        .DisableDefaultFonts()
        .DisableTelemetry()
        .DisableAgent()
        .HideDeveloperTools());
}
