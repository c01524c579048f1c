namespace ChatSlices.Infrastructure.Http;

/// <summary><c>Http:PathBase</c>: the prefix under which a gateway exposes the service (e.g. <c>/api</c>).</summary>
public static class PathBase
{
    /// <summary>
    /// Strips the prefix from requests that carry it, and puts it in front of the links handlers write: those are paths from
    /// the service's root (<c>Created("/v1/files/{id}")</c>), which behind the gateway would lead past it, to a 404.
    /// </summary>
    public static IApplicationBuilder UseConfiguredPathBase(this IApplicationBuilder app, IConfiguration configuration)
    {
        if (configuration["Http:PathBase"] is not { Length: > 0 } pathBase) return app;
        app.UsePathBase(pathBase);
        return app.Use((http, next) =>
        {
            http.Response.OnStarting(() =>
            {
                var location = http.Response.Headers.Location.ToString();
                if (http.Request.PathBase.HasValue && location.StartsWith('/') && !location.StartsWith("//", StringComparison.Ordinal))
                    http.Response.Headers.Location = http.Request.PathBase.ToUriComponent() + location;
                return Task.CompletedTask;
            });
            return next(http);
        });
    }
}
