using System.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;

namespace ChatSlices.Infrastructure.Errors;

public static class ProblemSetup
{
    public static IServiceCollection AddChatSlicesProblems(this IServiceCollection services)
    {
        services.AddSingleton<IProblemDetailsWriter, OpenAiErrorWriter>(); // before the default writer, so it is asked first
        services.AddProblemDetails(o => o.CustomizeProblemDetails = ctx => Complete(ctx.ProblemDetails, ctx.HttpContext));
        services.AddExceptionHandler<ApiExceptionHandler>();
        // Binding failures (malformed JSON, wrong content type, body too large) throw, so that they reach the
        // exception handler and come back as problem details rather than an empty 400.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        return services;
    }

    /// <summary>A problem with this extension (seconds) also sends <c>Retry-After</c>.</summary>
    public const string RetryAfterExtension = "retry_after";

    /// <summary>Every problem carries status, title, detail and trace_id, so clients that read <c>detail</c> keep working.</summary>
    public static void Complete(ProblemDetails problem, HttpContext http)
    {
        if (problem.Status == StatusCodes.Status401Unauthorized && !http.Response.HasStarted && http.Response.Headers.WWWAuthenticate.Count == 0)
            http.Response.Headers.WWWAuthenticate = "Bearer";
        if (problem.Extensions.TryGetValue(RetryAfterExtension, out var retryAfter) && !http.Response.HasStarted)
            http.Response.Headers.RetryAfter = Convert.ToString(retryAfter, System.Globalization.CultureInfo.InvariantCulture);
        problem.Status ??= http.Response.StatusCode;
        problem.Title ??= ReasonPhrases.GetReasonPhrase(problem.Status.Value);
        problem.Detail ??= DefaultDetail(problem.Status.Value, http);
        problem.Extensions.Remove("traceId");
        problem.Extensions["trace_id"] = TraceId(http);
    }

    public static string TraceId(HttpContext http) => Activity.Current?.TraceId.ToString() ?? http.TraceIdentifier;

    private static string DefaultDetail(int status, HttpContext http) => status switch
    {
        StatusCodes.Status401Unauthorized => "A valid bearer token is required.",
        StatusCodes.Status403Forbidden => "You are not allowed to do this.",
        StatusCodes.Status404NotFound => "Not found.",
        StatusCodes.Status405MethodNotAllowed => $"{http.Request.Method} is not allowed on {http.Request.Path}.",
        StatusCodes.Status413PayloadTooLarge => "The request body is too large.",
        StatusCodes.Status415UnsupportedMediaType => "Unsupported content type.",
        StatusCodes.Status429TooManyRequests => "Too many requests; retry later.",
        StatusCodes.Status503ServiceUnavailable => "A dependency is unavailable; retry later.",
        _ => ReasonPhrases.GetReasonPhrase(status),
    };

    /// <summary>Status codes set without a body (404 route, 405, 401/403 challenges) get a problem body too.</summary>
    public static IApplicationBuilder UseProblemStatusCodes(this IApplicationBuilder app) => app.UseStatusCodePages(async ctx =>
    {
        var http = ctx.HttpContext;
        var problems = http.RequestServices.GetRequiredService<IProblemDetailsService>();
        await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = { Status = http.Response.StatusCode } });
    });
}
