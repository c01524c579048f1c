using Microsoft.AspNetCore.Mvc;
using Microsoft.Net.Http.Headers;

namespace ChatSlices.Infrastructure.Http;

public static class Utf8JsonBodies
{
    /// <summary>JSON is UTF-8 (RFC 8259): a JSON body that names another charset is a 415, before any binding tries to decode it.</summary>
    public static IApplicationBuilder UseUtf8JsonBodies(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        if (MediaTypeHeaderValue.TryParse(http.Request.ContentType, out var media)
            && media.MediaType.Value?.EndsWith("json", StringComparison.OrdinalIgnoreCase) == true
            && media.Charset.HasValue
            && !media.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase)
            && !media.Charset.Equals("utf8", StringComparison.OrdinalIgnoreCase))
        {
            http.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = http,
                ProblemDetails = new ProblemDetails { Status = StatusCodes.Status415UnsupportedMediaType, Detail = "JSON bodies must be UTF-8." },
            });
            return;
        }
        await next(http);
    });
}
