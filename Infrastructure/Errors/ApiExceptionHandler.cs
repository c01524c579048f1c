using ChatSlices.Infrastructure.Mediation;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace ChatSlices.Infrastructure.Errors;

/// <summary>The one place where exceptions become HTTP problems. Nothing internal (stack, SQL, type names) leaves.</summary>
public sealed class ApiExceptionHandler(IProblemDetailsService problems, ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
    {
        if (http.RequestAborted.IsCancellationRequested) return true; // the client left; nobody reads an answer

        var problem = exception switch
        {
            RequestValidationException invalid => new HttpValidationProblemDetails(invalid.Errors)
            {
                Status = StatusCodes.Status422UnprocessableEntity,
                Title = "Validation failed",
                Detail = "One or more fields are invalid: " + string.Join(", ", invalid.Errors.Keys) + ".",
            },
            BadHttpRequestException bad => new ProblemDetails { Status = bad.StatusCode, Detail = BadRequestDetail(bad) },
            // Data exceptions (class 22) come from values the client sent that the database cannot hold.
            PostgresException { SqlState: var state } when state.StartsWith("22", StringComparison.Ordinal) => new ProblemDetails
            {
                Status = StatusCodes.Status422UnprocessableEntity,
                Title = "Unprocessable Entity",
                Detail = "A value in the request cannot be stored (out of range, or characters the database does not accept).",
            },
            _ when IsDatabaseUnavailable(exception) => new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Service Unavailable",
                Detail = "The database is unavailable; retry later.",
            },
            _ => new ProblemDetails
            {
                Status = StatusCodes.Status500InternalServerError,
                Title = "Internal Server Error",
                Detail = "An unexpected error occurred. Quote the trace_id when you report it.",
            },
        };

        if (problem.Status >= 500) logger.LogError(exception, "Request failed with {Status}", problem.Status);
        else logger.LogInformation("Request rejected with {Status}: {Reason}", problem.Status, exception.Message);

        http.Response.StatusCode = problem.Status!.Value;
        if (problem.Status == StatusCodes.Status503ServiceUnavailable) http.Response.Headers.RetryAfter = "5";
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = problem, Exception = exception });
    }

    private static string BadRequestDetail(BadHttpRequestException bad) => bad.StatusCode switch
    {
        StatusCodes.Status400BadRequest when bad.InnerException is System.Text.Json.JsonException json =>
            "The request body is not valid JSON" + (json.Path is { } path ? $" (at {path}, line {json.LineNumber}, byte {json.BytePositionInLine})." : "."),
        StatusCodes.Status413PayloadTooLarge => "The request body is too large.",
        StatusCodes.Status415UnsupportedMediaType => "Send the body as application/json.",
        _ => bad.Message,
    };

    /// <summary>Connection-level failures (refused, reset, pool timeout) mean the database is down, not that the request is wrong.</summary>
    private static bool IsDatabaseUnavailable(Exception exception) => exception switch
    {
        PostgresException pg => pg.SqlState is "57P01" or "57P02" or "57P03" or "53300", // shutting down, cannot connect now, too many connections
        NpgsqlException => true, // refused, reset, pool exhausted: the inner exception says which
        _ when exception.InnerException is { } inner => IsDatabaseUnavailable(inner),
        _ => false,
    };
}
