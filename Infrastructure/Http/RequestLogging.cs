using System.Diagnostics;
using ChatSlices.Infrastructure.Errors;

namespace ChatSlices.Infrastructure.Http;

public static class RequestLogging
{
    /// <summary>
    /// One line per request with method, path, status, duration and the trace id that problem bodies quote. The id is in the
    /// message itself because the Development console formatter does not print scopes.
    /// </summary>
    public static IApplicationBuilder UseRequestLogging(this IApplicationBuilder app)
    {
        var logger = app.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("ChatSlices.Requests");
        return app.Use(async (http, next) =>
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await next(http);
            }
            finally
            {
                logger.LogInformation("HTTP {Method} {Path} responded {StatusCode} in {ElapsedMs:0.0} ms (trace {TraceId})",
                    http.Request.Method, http.Request.Path.Value, http.Response.StatusCode,
                    Stopwatch.GetElapsedTime(started).TotalMilliseconds, ProblemSetup.TraceId(http));
            }
        });
    }
}
