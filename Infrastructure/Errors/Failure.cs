namespace ChatSlices.Infrastructure.Errors;

/// <summary>An expected failure (not found, bad reference, not allowed) returned by a handler as a value.</summary>
public sealed record Failure(int Status, string Detail, string? Code = null)
{
    /// <summary>For 429 and 503: when to try again (sent as <c>Retry-After</c>).</summary>
    public int? RetryAfterSeconds { get; init; }

    public static Failure NotFound(string what) => new(StatusCodes.Status404NotFound, $"{what} was not found.", "not_found");

    public static Failure BadRequest(string detail, string code) => new(StatusCodes.Status400BadRequest, detail, code);

    public ProblemHttpResult ToResult()
    {
        var extensions = new Dictionary<string, object?>();
        if (Code is not null) extensions["code"] = Code;
        if (RetryAfterSeconds is { } seconds) extensions[ProblemSetup.RetryAfterExtension] = seconds;
        return TypedResults.Problem(statusCode: Status, detail: Detail, extensions: extensions);
    }
}

/// <summary>Either a value or a <see cref="Failure"/>.</summary>
public readonly record struct Outcome<T>(T? Value, Failure? Failure)
{
    public static implicit operator Outcome<T>(T value) => new(value, null);
    public static implicit operator Outcome<T>(Failure failure) => new(default, failure);
}
