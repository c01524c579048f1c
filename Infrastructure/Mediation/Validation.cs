namespace ChatSlices.Infrastructure.Mediation;

/// <summary>A request that checks its own fields; <see cref="ValidationBehavior{TRequest,TResponse}"/> runs it before the handler.</summary>
public interface IValidated
{
    void Validate(ValidationErrors errors);
}

/// <summary>Field errors keyed by the snake_case field name the client sent.</summary>
public sealed class ValidationErrors
{
    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool Any => _errors.Count > 0;

    public void Add(string field, string message)
    {
        if (!_errors.TryGetValue(field, out var messages)) _errors[field] = messages = [];
        messages.Add(message);
    }

    /// <summary>Adds <paramref name="message"/> when <paramref name="condition"/> is false.</summary>
    public void Require(bool condition, string field, string message)
    {
        if (!condition) Add(field, message);
    }

    public void Length(string? value, string field, int min, int max)
    {
        if (value is null) return;
        if (value.Length < min) Add(field, min == 1 ? "Must not be empty." : $"Must be at least {min} characters.");
        else if (value.Length > max) Add(field, $"Must be at most {max} characters.");
    }

    public void Range<T>(T? value, string field, T min, T max) where T : struct, IComparable<T>
    {
        if (value is { } v && (v.CompareTo(min) < 0 || v.CompareTo(max) > 0)) Add(field, $"Must be between {min} and {max}.");
    }

    /// <summary>Query values arrive as text so that a bad one is a 422 naming the field, not a bare 400.</summary>
    public void WholeNumber(string? raw, string field)
    {
        if (raw is not null && QueryText.Integer(raw) is null) Add(field, "Must be a whole number.");
    }

    /// <summary>A date (or a date-time's UTC day) a query may name: see <see cref="QueryText.EarliestDate"/>.</summary>
    public void DateInRange(DateOnly? value, string field)
    {
        if (value is { } day && (day < QueryText.EarliestDate || day > QueryText.LatestDate))
            Add(field, $"Must be between {QueryText.EarliestDate:yyyy-MM-dd} and {QueryText.LatestDate:yyyy-MM-dd}.");
    }

    /// <summary>
    /// <c>start_date</c>/<c>end_date</c> of a list filtered on a time: each a date or a date-time (see
    /// <see cref="QueryText.DateOrDateTime"/>) in range, the end not before the start.
    /// </summary>
    public void DateTimeWindow(string? rawStart, string? rawEnd)
    {
        var start = QueryText.DateOrDateTime(rawStart, endOfDay: false);
        var end = QueryText.DateOrDateTime(rawEnd, endOfDay: true);
        Require(rawStart is null || start is not null, "start_date", "Must be an ISO 8601 date or date-time.");
        Require(rawEnd is null || end is not null, "end_date", "Must be an ISO 8601 date or date-time.");
        DateInRange(start is { } from ? DateOnly.FromDateTime(from) : null, "start_date");
        DateInRange(end is { } to ? DateOnly.FromDateTime(to) : null, "end_date");
        if (start is { } first && end is { } last) Require(first <= last, "end_date", "Must not be before start_date.");
    }

    public IDictionary<string, string[]> ToDictionary() => _errors.ToDictionary(e => e.Key, e => e.Value.ToArray());
}

/// <summary>Thrown by the validation behavior; the exception handler turns it into the contract's 422.</summary>
public sealed class RequestValidationException(IDictionary<string, string[]> errors)
    : Exception("One or more fields are invalid.")
{
    public IDictionary<string, string[]> Errors { get; } = errors;

    public static RequestValidationException For(string field, string message) => new(new Dictionary<string, string[]> { [field] = [message] });
}

public static class QueryText
{
    /// <summary>
    /// The dates a query may name. Far enough from <see cref="DateTime"/>'s ends that a day's end, the day after or a
    /// default window before it never overflows (9999-12-31 and 0001-01-05 once answered 500).
    /// </summary>
    public static readonly DateOnly EarliestDate = new(1970, 1, 1), LatestDate = new(9998, 12, 31);

    public static int? Integer(string? raw) =>
        int.TryParse(raw, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : null;

    /// <summary>A <c>YYYY-MM-DD</c> date.</summary>
    public static DateOnly? Date(string? raw) =>
        DateOnly.TryParseExact(raw, "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var day) ? day : null;

    /// <summary>A date-time, or a <c>YYYY-MM-DD</c> date covering its whole UTC day: as an end it means up to the end of that day.</summary>
    public static DateTime? DateOrDateTime(string? raw, bool endOfDay)
    {
        if (raw is null) return null;
        if (Date(raw) is { } day) return day.ToDateTime(endOfDay ? TimeOnly.MaxValue : TimeOnly.MinValue, DateTimeKind.Utc);
        return DateTimeOffset.TryParse(raw, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at)
            ? at.UtcDateTime : null;
    }
}

/// <summary><c>skip</c>/<c>limit</c> from a query string, as text so that bad values are a 422 naming the field.</summary>
public sealed record SkipLimit(string? RawSkip, string? RawLimit, int DefaultLimit, int MaxLimit)
{
    public int Skip => QueryText.Integer(RawSkip) ?? 0;
    public int Limit => QueryText.Integer(RawLimit) ?? DefaultLimit;

    public void Validate(ValidationErrors errors)
    {
        errors.WholeNumber(RawSkip, "skip");
        errors.WholeNumber(RawLimit, "limit");
        errors.Require(Skip >= 0, "skip", "Must be 0 or more.");
        errors.Range<int>(Limit, "limit", 1, MaxLimit);
    }
}
