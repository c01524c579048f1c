using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Security;

/// <summary>
/// The same bar for the rest of a request: the query string and the path segments of every route in the route table (every
/// method, the operations routes too). Query values and names come from the OpenAPI document (the parameters each route
/// declares) plus unknown ones; each is given hostile values: edge numbers, dates at and past the calendar's ends, NUL,
/// invalid UTF-8, lone surrogates, web-search syntax, 6 KB values, repeated and empty parameters. Every route parameter is
/// given hostile segments (non-ids, other id formats, encoded slashes and dots, NUL, 4 KB). Same verdict as the bodies:
/// below 500, every error problem+json (OpenAI's shape on <c>/v1/chat/completions</c>), nothing internal shown.
/// Each declared parameter meets each hostile value alone (a sweep), and seeded random queries combine them. GET routes are
/// called with the caller's own ids (so the query reaches the handler); other methods with an id nobody has
/// and their minimal valid body (so nothing the body fuzz relies on is changed or deleted).
/// </summary>
public partial class JsonFuzzTests
{
    public const int QueriesPerRoute = 10;

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task FuzzedQueryStrings_OfEveryRoute_AreNeverA5xx_AlwaysAProblem_AndNeverLeakInternals(int seed)
    {
        var ids = await OwnObjectsAsync();
        var declared = await QueryParametersAsync();
        var failures = new List<string>();
        var statuses = new SortedDictionary<int, int>();
        var clock = Stopwatch.StartNew();
        foreach (var route in api.Routes)
        {
            var random = new Random(unchecked(seed * 7919 + StableHash(route.Key)));
            var names = declared.GetValueOrDefault(route.Key) ?? [];
            using var client = ClientFor(route);
            var path = PathFor(route, ids, ownIds: IsRead(route));
            // Without a query, each read reaches its handler: the hostile queries below start from a request that succeeds.
            if (IsRead(route) && names.Count > 0)
            {
                var baseline = await SendAsync(client, RequestFor(route, path, ids));
                ((int)baseline.Status).Should().BeInRange(200, 299, $"{route.Key} without a query should succeed: {Report.Clip(baseline.Text)}");
            }
            for (var i = 0; i < QueriesPerRoute; i++)
            {
                var (query, note) = HostileQuery(random, names, ids);
                var mark = api.Log.Mark;
                var answer = await SendAsync(client, RequestFor(route, path + query, ids));
                statuses[(int)answer.Status] = statuses.GetValueOrDefault((int)answer.Status) + 1;
                if (Verdict(IsOpenAi(route), route.Pattern, answer) is { } problem)
                    failures.Add($"{route.Method} {path}{Report.Clip(query, 400)} ({note})\n    → {(int)answer.Status} {answer.ContentType ?? "(no content type)"}: {Report.Clip(answer.Text)}\n" +
                                 $"    {problem}\n    server log: {api.Log.Describe(mark)}");
            }
        }

        failures.Should().BeEmpty($"seed {seed}: {api.Routes.Count} routes × {QueriesPerRoute} queries in {clock.ElapsedMilliseconds} ms, statuses {Statuses(statuses)}");
    }

    [Fact]
    public async Task EveryDeclaredQueryParameter_WithEachHostileValue_IsNeverA5xx_AlwaysAProblem_AndNeverLeakInternals()
    {
        var ids = await OwnObjectsAsync();
        var declared = await QueryParametersAsync();
        var values = HostileValues(new Random(0), ids);
        var failures = new List<string>();
        var statuses = new SortedDictionary<int, int>();
        var clock = Stopwatch.StartNew();
        var routes = api.Routes.Where(r => declared.GetValueOrDefault(r.Key) is { Count: > 0 }).ToList();
        routes.Should().HaveCountGreaterThan(5, "the history, usage, prompts, assistants, messages and users lists take query parameters");
        foreach (var route in routes)
        {
            using var client = ClientFor(route);
            var path = PathFor(route, ids, ownIds: IsRead(route));
            foreach (var name in declared[route.Key])
                foreach (var value in values)
                {
                    var query = $"?{name}={value}";
                    var mark = api.Log.Mark;
                    var answer = await SendAsync(client, RequestFor(route, path + query, ids));
                    statuses[(int)answer.Status] = statuses.GetValueOrDefault((int)answer.Status) + 1;
                    if (Verdict(IsOpenAi(route), route.Pattern, answer) is { } problem)
                        failures.Add($"{route.Method} {path}{Report.Clip(query, 400)}\n    → {(int)answer.Status} {answer.ContentType ?? "(no content type)"}: {Report.Clip(answer.Text)}\n" +
                                     $"    {problem}\n    server log: {api.Log.Describe(mark)}");
                }
        }

        failures.Should().BeEmpty($"{routes.Count} routes × their parameters × {values.Length} values in {clock.ElapsedMilliseconds} ms, statuses {Statuses(statuses)}");
    }

    [Fact]
    public async Task FuzzedPathSegments_OfEveryRoute_AreNeverA5xx_AlwaysAProblem_AndNeverLeakInternals()
    {
        var ids = await OwnObjectsAsync();
        var failures = new List<string>();
        var statuses = new SortedDictionary<int, int>();
        var clock = Stopwatch.StartNew();
        var routes = api.Routes.Where(r => r.Endpoint.RoutePattern.Parameters.Count > 0).ToList();
        routes.Should().HaveCountGreaterThan(20, "the route table lists the session, file, prompt and assistant routes");
        foreach (var route in routes)
        {
            using var client = ClientFor(route);
            foreach (var parameter in route.Endpoint.RoutePattern.Parameters)
                foreach (var segment in HostileSegments())
                {
                    var path = PathFor(route, ids, ownIds: false).Replace(Placeholder(parameter.Name), segment);
                    var mark = api.Log.Mark;
                    var answer = await SendAsync(client, RequestFor(route, path, ids));
                    statuses[(int)answer.Status] = statuses.GetValueOrDefault((int)answer.Status) + 1;
                    if (Verdict(IsOpenAi(route), route.Pattern, answer) is { } problem)
                        failures.Add($"{route.Method} {Report.Clip(path, 400)} ({{{parameter.Name}}} = {Report.Clip(segment, 60)})\n" +
                                     $"    → {(int)answer.Status} {answer.ContentType ?? "(no content type)"}: {Report.Clip(answer.Text)}\n    {problem}\n    server log: {api.Log.Describe(mark)}");
                }
        }

        failures.Should().BeEmpty($"{routes.Count} routes with parameters in {clock.ElapsedMilliseconds} ms, statuses {Statuses(statuses)}");
    }

    [Fact]
    public async Task TheOpenApiDocument_DeclaresTheQueryParametersTheFuzzUses()
    {
        var declared = await QueryParametersAsync();

        declared.GetValueOrDefault("GET /v1/chat/history").Should().Contain(["page", "page_size", "start_date", "end_date", "q", "include_messages"]);
        declared.GetValueOrDefault("GET /v1/tokens/usage").Should().Contain(["start_date", "end_date"]);
        declared.GetValueOrDefault("GET /v1/prompts").Should().Contain(["search", "tag", "page"]);
        declared.Values.Sum(p => p.Count).Should().BeGreaterThan(20);
    }

    public static TheoryData<int> Seeds()
    {
        var data = new TheoryData<int>();
        foreach (var seed in FuzzSeeds()) data.Add(seed);
        return data;
    }

    private static string Statuses(SortedDictionary<int, int> statuses) => string.Join(", ", statuses.Select(s => $"{s.Key}×{s.Value}"));

    private static bool IsRead(RouteInfo route) => route.Method is "GET" or "HEAD";

    /// <summary>The OpenAI-compatible routes, marked to answer errors in OpenAI's shape.</summary>
    private static bool IsOpenAi(RouteInfo route) => route.Endpoint.Metadata.GetMetadata<OpenAiErrorFormat>() is not null;

    private HttpClient ClientFor(RouteInfo route)
    {
        var client = api.SocketClient(route.Policy?.Split(',').Contains(AuthSetup.AdminPolicy) == true ? Tokens.Admin(AdminSub) : Tokens.For(OwnerSub));
        client.Timeout = TimeSpan.FromSeconds(30);
        return client;
    }

    private static string Placeholder(string parameter) => "{" + parameter + "}";

    /// <summary>The route's path: the caller's own object of the kind the route names, or an id nobody has.</summary>
    private static string PathFor(RouteInfo route, Ids ids, bool ownIds)
    {
        var path = route.Pattern;
        foreach (var parameter in route.Endpoint.RoutePattern.Parameters)
        {
            var value = parameter.Name switch
            {
                "documentName" => "v1",
                _ when !ownIds => "0190a5b2-0000-7000-8000-00000000f022", // a UUID v7 no one has
                "messageId" => ids.Message,
                _ when path.StartsWith("/v1/assistants/", StringComparison.Ordinal) => ids.Assistant,
                _ when path.StartsWith("/v1/prompts/", StringComparison.Ordinal) => ids.Prompt,
                _ when path.StartsWith("/v1/files/", StringComparison.Ordinal) => ids.File,
                _ when path.StartsWith("/v1/chat/streams/", StringComparison.Ordinal) => ids.Stream,
                _ when path.StartsWith("/v1/chat/messages/", StringComparison.Ordinal) => ids.Reply,
                _ => ids.Session,
            };
            path = path.Replace(Placeholder(parameter.Name), value);
        }
        return path;
    }

    /// <summary>The request, with the route's minimal valid body when it takes JSON (so that it gets past the body checks).</summary>
    private static HttpRequestMessage RequestFor(RouteInfo route, string pathAndQuery, Ids ids)
    {
        // Routes mapped without a method (the health checks) answer any: GET stands for them.
        var request = new HttpRequestMessage(new HttpMethod(route.Method == "*" ? "GET" : route.Method), pathAndQuery);
        if (Routes.FirstOrDefault(r => r.Key == route.Key) is { } json) request.Content = JsonContent.Create(json.Minimal(ids));
        return request;
    }

    private static readonly ConcurrentDictionary<SecurityApiFactory, Lazy<Task<Dictionary<string, List<string>>>>> QueryParameters = new();

    /// <summary>The query parameters each operation of the OpenAPI document declares, by route key (<c>GET /v1/chat/history</c>).</summary>
    private Task<Dictionary<string, List<string>>> QueryParametersAsync() => QueryParameters.GetOrAdd(api, _ => new(async () =>
    {
        var doc = JsonDocument.Parse(await api.SocketClient().GetStringAsync("/openapi/v1.json")).RootElement;
        return doc.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Where(op => op.Name != "parameters").Select(op => (
                Key: $"{op.Name.ToUpperInvariant()} {path.Name}",
                Names: op.Value.TryGetProperty("parameters", out var parameters)
                    ? parameters.EnumerateArray().Where(p => p.Str("in") == "query").Select(p => p.Str("name")).ToList()
                    : [])))
            .ToDictionary(o => o.Key, o => o.Names);
    })).Value;

    private static string E(string text) => Uri.EscapeDataString(text);

    /// <summary>Query values, already percent-encoded: each is sent as it stands.</summary>
    private static string[] HostileValues(Random random, Ids ids) =>
    [
        "", "%20", "-1", "0", "1", "2147483647", "2147483648", "-2147483649", "99999999999999999999", "1e400", "1.5", "NaN", "Infinity",
        "null", "true", "false", "TRUE", "yes", "%5B%5D", "%7B%7D", "%00", "a%00b", "%FF", "%C3%28", "%ED%A0%80", "%F0%9F%99%82", "%E2%80%AE",
        E("'; DROP TABLE chat_sessions; --"), E("\" OR 1=1 --"), "%25", "%2525", "+", "%2B", "%26", "%3D", "%0D%0ASet-Cookie:%20x=1",
        "9999-12-31", "9998-12-31", "0001-01-01", "0001-01-05", "1969-12-31", "1970-01-01", "2026-02-30", "2026-13-01", "26-01-01", "2026-1-1",
        E("2026-01-01T25:00:00Z"), E("9999-12-31T23:59:59-05:00"), E("0001-01-01T00:00:00+14:00"), E("-0001-01-01"), E("+275760-09-13"),
        E("2026-01-01T00:00:00.123456789Z"), E("Tue, 01 Jan 2026 00:00:00 GMT"), "1767225600",
        Guid.Empty.ToString(), new Guid(RandomBytes(random, 16)).ToString(), ids.Session, ids.File, ids.Prompt, ids.Assistant, "not-a-uuid",
        E("\"unclosed"), E("!!!"), E("a & b | !c"), E("<->"), "(", ")", "*", E("a:*"), "%5C", E("-"), E("or"), E("\"\""),
        E("..//../etc/passwd"), E("<script>alert(1)</script>"), E("${jndi:ldap://x}"), E("%s%n%x"), E("{name}"),
        E(new string('a', 6 * 1024)), E(string.Concat(Enumerable.Repeat("漢🙂", 300))), E(string.Concat(Enumerable.Repeat("a ", 1000))),
    ];

    private static readonly string[] UnknownNames = ["x", "limit", "skip", "page", "model", "id", "user_id", "sort", "order", "format", "%00", "%5B%5D", "a%5Bb%5D", "%FF", ""];

    /// <summary>A query string built one of several ways from the route's declared parameters and unknown ones.</summary>
    private static (string Query, string Note) HostileQuery(Random random, List<string> names, Ids ids)
    {
        var values = HostileValues(random, ids);
        string Value() => values[random.Next(values.Length)];
        string Name() => names.Count > 0 && random.Next(4) != 0 ? names[random.Next(names.Count)] : UnknownNames[random.Next(UnknownNames.Length)];
        switch (random.Next(7))
        {
            case 0:
            case 1:
            {
                var name = Name();
                var value = Value();
                return ($"?{name}={value}", $"one parameter: {name}");
            }
            case 2:
            {
                var pairs = Enumerable.Range(0, random.Next(2, 6)).Select(_ => $"{Name()}={Value()}").ToList();
                return ("?" + string.Join("&", pairs), "several parameters");
            }
            case 3:
            {
                var name = Name();
                return ($"?{name}={Value()}&{name}={Value()}&{name}={Value()}", $"{name} three times");
            }
            case 4:
                return ("?" + string.Join("&", names.Select(n => $"{n}={Value()}")), "every declared parameter");
            case 5:
                return (new[] { "?", "?&&&", "?=", "?==", "?%", "?%%", "?&=&", "?" + Name(), "?" + Name() + "=", "?#", "?;", "?a=1;b=2", "?%3F%3F" }[random.Next(13)],
                        "a bare or malformed query");
            default:
                return ("?" + string.Join("&", Enumerable.Range(0, 300).Select(i => $"p{i}={i}")), "300 parameters");
        }
    }

    private static byte[] RandomBytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>Path segments, already percent-encoded (never one of the caller's ids: the methods include DELETE).</summary>
    private static IEnumerable<string> HostileSegments()
    {
        var stranger = Guid.CreateVersion7();
        return
        [
            "%20", "-1", "0", "1", "99999999999999999999", "not-a-uuid", Guid.Empty.ToString(), stranger.ToString(), stranger.ToString("N"),
            stranger.ToString("B"), stranger.ToString("P"), stranger.ToString().ToUpperInvariant(), stranger + "x", stranger + "%00", stranger.ToString()[..35],
            "%7Bid%7D", "%00", "a%00b", "%FF", "%C3%28", "%ED%A0%80", "%F0%9F%99%82", "%2F", "%2E%2E", "%2E", "..%2F..%2Fetc%2Fpasswd", "%5C", "%25",
            "%252F", "%3F", "%23", "%3B", E("'; DROP TABLE chat_sessions; --"), E("<script>"), E("漢字"), new string('a', 4 * 1024),
            "v1.json", "v1", "null", "undefined", "true",
        ];
    }
}
