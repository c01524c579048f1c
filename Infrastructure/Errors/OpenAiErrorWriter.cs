using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace ChatSlices.Infrastructure.Errors;

/// <summary>Marks a route whose errors use OpenAI's <c>{"error": {message, type, code, param}}</c> shape instead of problem+json.</summary>
public sealed class OpenAiErrorFormat
{
    /// <summary>
    /// The paths of the OpenAI-compatible routes: a request refused before it reaches its route (wrong content type)
    /// has no endpoint to carry the marker, but its client still reads OpenAI's error shape.
    /// </summary>
    public static readonly string[] Paths = ["/v1/chat/completions", "/v1/embeddings"];
}

/// <summary>Writes every problem of a route marked <see cref="OpenAiErrorFormat"/> the way OpenAI SDKs expect to read it.</summary>
public sealed class OpenAiErrorWriter : IProblemDetailsWriter
{
    public bool CanWrite(ProblemDetailsContext context)
    {
        // The exception handler clears the endpoint before it runs; the feature keeps the one that failed.
        var endpoint = context.HttpContext.GetEndpoint() ?? context.HttpContext.Features.Get<IExceptionHandlerFeature>()?.Endpoint;
        return endpoint?.Metadata.GetMetadata<OpenAiErrorFormat>() is not null
               || OpenAiErrorFormat.Paths.Any(p => context.HttpContext.Request.Path.Equals(p, StringComparison.OrdinalIgnoreCase));
    }

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var http = context.HttpContext;
        var problem = context.ProblemDetails;
        ProblemSetup.Complete(problem, http);
        var fieldErrors = (problem as HttpValidationProblemDetails)?.Errors;
        var message = fieldErrors is { Count: > 0 }
            ? string.Join(" ", fieldErrors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}"))
            : problem.Detail;
        var error = new
        {
            message,
            type = Type(problem.Status ?? 500),
            code = problem.Extensions.TryGetValue("code", out var code) ? code : null,
            param = fieldErrors?.Keys.FirstOrDefault(),
        };
        return new ValueTask(http.Response.WriteAsJsonAsync(new { error }, JsonSerializerOptions.Web, http.RequestAborted));
    }

    /// <summary>OpenAI's error type for an HTTP status.</summary>
    public static string Type(int status) => status switch
    {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        >= 500 => "server_error",
        _ => "invalid_request_error",
    };
}
