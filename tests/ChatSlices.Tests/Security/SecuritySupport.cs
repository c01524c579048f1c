using System.Collections.Concurrent;
using System.Text;
using ChatSlices.Tests.Support;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ChatSlices.Tests.Security;

/// <summary>
/// The service on a real Kestrel port (as <see cref="ChatApiFactory"/>), with every log entry of Warning and above kept in
/// <see cref="Log"/>, so that a test that meets a 5xx can quote the server's own log line.
/// </summary>
public class SecurityApiFactory : ChatApiFactory
{
    public LogSink Log { get; } = new();

    public SecurityApiFactory()
    {
        ReplaceServices = services => services.AddSingleton<ILoggerProvider>(Log);
        With("Chat:ResumeRetentionSeconds", "3600"); // the fuzz replays one stream for as long as it runs
    }

    /// <summary>Every route of the running service, one row per HTTP method.</summary>
    public IReadOnlyList<RouteInfo> Routes => RouteInfo.All(Services);

    /// <summary>
    /// A digest (row count and md5 of every row) of each table that holds what callers own, one line per table. The
    /// <c>users</c> table (a first-seen caller gets a row) and the quota counters are left out on purpose.
    /// </summary>
    public Task<string?> DigestAsync() => ScalarAsync<string>(DigestSql);

    /// <summary>The digest once two reads in a row agree (nothing is still being written).</summary>
    public async Task<string> StableDigestAsync()
    {
        var last = await DigestAsync();
        for (var i = 0; i < 40; i++)
        {
            await Task.Delay(25);
            var next = await DigestAsync();
            if (next == last) return next!;
            last = next;
        }
        throw new InvalidOperationException("The database did not settle within 1 s:\n" + last);
    }

    private static readonly (string Table, string Order)[] OwnedTables =
    [
        ("chat_sessions", "x.id"), ("chat_messages", "x.id"), ("idempotency_keys", "x.user_id, x.key"),
        ("documents", "x.id"), ("document_pages", "x.document_id, x.page"), ("chunks", "x.id"),
        ("assistants", "x.id"), ("semantic_cache", "x.id"), ("prompts", "x.id"),
        ("message_feedback", "x.message_id, x.user_id"),
    ];

    private static readonly string DigestSql = "SELECT concat_ws(E'\\n', " + string.Join(", ", OwnedTables.Select(t =>
        $"'{t.Table}: ' || (SELECT count(*) FROM {t.Table}) || ' rows, md5 ' || (SELECT md5(coalesce(string_agg(x::text, E'\\n' ORDER BY {t.Order}), '')) FROM {t.Table} x)")) + ")";
}

/// <summary>A route of the service as the endpoint metadata describes it.</summary>
/// <param name="Pattern">The route pattern with constraints dropped, e.g. <c>/v1/files/{id}</c>.</param>
/// <param name="Policy">The authorization policies on the endpoint (<c>user</c>, <c>admin</c>, <c>optional</c>), comma separated; null when none.</param>
public sealed record RouteInfo(string Method, string Pattern, string? Policy, RouteEndpoint Endpoint)
{
    public bool HasParameter(string name) => Endpoint.RoutePattern.Parameters.Any(p => p.Name == name);

    public string Key => $"{Method} {Pattern}";

    public override string ToString() => $"{Key} ({Policy ?? "no policy"})";

    public static IReadOnlyList<RouteInfo> All(IServiceProvider services) =>
        services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["*"]).Select(method => new RouteInfo(
                method, Normalize(e.RoutePattern), Policies(e), e)))
            .OrderBy(r => r.Pattern, StringComparer.Ordinal).ThenBy(r => r.Method, StringComparer.Ordinal)
            .ToList();

    private static string? Policies(Endpoint endpoint)
    {
        var policies = endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>().Select(a => a.Policy ?? "(default)").Distinct().ToList();
        return policies.Count == 0 ? null : string.Join(",", policies);
    }

    private static string Normalize(RoutePattern pattern) => "/" + string.Join("/", pattern.PathSegments.Select(segment =>
        string.Concat(segment.Parts.Select(part => part switch
        {
            RoutePatternLiteralPart literal => literal.Content,
            RoutePatternSeparatorPart separator => separator.Content,
            RoutePatternParameterPart parameter => "{" + parameter.Name + "}",
            _ => "?",
        }))));
}

/// <summary>Keeps the service's log entries (Warning and above unless told otherwise) in memory.</summary>
public sealed class LogSink(LogLevel minimum = LogLevel.Warning) : ILoggerProvider
{
    public sealed record Entry(long Sequence, DateTime At, LogLevel Level, string Category, string Message, Exception? Exception)
    {
        public override string ToString()
        {
            var text = $"[{Level}] {Category}: {Message}";
            if (Exception is { } e) text += $"\n    {e.GetType().FullName}: {e.Message}" + (e.InnerException is { } inner ? $"\n    inner {inner.GetType().FullName}: {inner.Message}" : "");
            if (Exception?.StackTrace is { } stack) text += "\n    " + string.Join("\n    ", stack.Split('\n').Take(4).Concat(stack.Split('\n').Skip(4).Where(l => l.Contains("ChatSlices.")).Take(3)).Select(l => l.Trim()));
            return text;
        }
    }

    private long _sequence;
    private readonly ConcurrentQueue<Entry> _entries = new();

    /// <summary>A mark to read the entries logged after it with <see cref="Since"/>.</summary>
    public long Mark => Interlocked.Read(ref _sequence);

    public IReadOnlyList<Entry> Since(long mark, LogLevel atLeast = LogLevel.Warning) =>
        _entries.Where(e => e.Sequence > mark && e.Level >= atLeast).ToList();

    public string Describe(long mark, LogLevel atLeast = LogLevel.Error)
    {
        var entries = Since(mark, atLeast);
        return entries.Count == 0 ? "(no server log entry)" : string.Join("\n", entries.Select(e => e.ToString()));
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName, minimum);

    public void Dispose()
    {
    }

    private void Add(LogLevel level, string category, string message, Exception? exception)
    {
        _entries.Enqueue(new Entry(Interlocked.Increment(ref _sequence), DateTime.UtcNow, level, category, message, exception));
        while (_entries.Count > 5000 && _entries.TryDequeue(out _))
        {
        }
    }

    private sealed class Logger(LogSink sink, string category, LogLevel minimum) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) sink.Add(logLevel, category, formatter(state, exception), exception);
        }
    }
}

/// <summary>Small helpers for the security tests' reports.</summary>
public static class Report
{
    /// <summary>At most <paramref name="max"/> characters of <paramref name="text"/>, saying how much was left out.</summary>
    public static string Clip(string text, int max = 300) =>
        text.Length <= max ? text : text[..max] + $"… ({text.Length - max} more characters)";

    /// <summary>A body as text for a report: UTF-8 when it is, else escaped bytes.</summary>
    public static string Show(byte[] body, int max = 300)
    {
        var text = new StringBuilder();
        foreach (var b in body.Take(max)) text.Append(b is >= 0x20 and < 0x7F ? ((char)b).ToString() : $"\\x{b:X2}");
        if (body.Length > max) text.Append($"… ({body.Length - max} more bytes)");
        return text.ToString();
    }
}
