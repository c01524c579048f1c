using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using ChatSlices.Tests.Support;
using Microsoft.AspNetCore.Http.Metadata;

namespace ChatSlices.Tests.Security;

/// <summary>
/// A seeded, bounded fuzz pass over every JSON-body route: for each route and seed, <see cref="BodiesPerSeed"/> bodies made
/// from a valid one by random types per field (nested fields too), 100 KB strings, nesting 200 deep, unknown enum values,
/// nulls (also inside arrays), arrays for objects, non-object roots, truncated JSON, invalid UTF-8, hostile strings (NUL,
/// lone surrogates), edge numbers, unknown and duplicate fields, an empty body and wrong content types. Every answer must
/// be below 500, every error problem+json (OpenAI's <c>{"error": …}</c> on <c>/v1/chat/completions</c>), and no answer may
/// show a stack trace, an exception or the database driver. Routes with an id get a real id of the caller's own object, so
/// that the body reaches validation and the handler. Seeds: 1, 2 and 3, or <c>CHATSLICES_FUZZ_SEEDS=3,4,…</c>. Query strings
/// and path segments of every route: JsonFuzzTests.QueryAndPath.cs.
/// </summary>
public partial class JsonFuzzTests(SecurityApiFactory api) : IClassFixture<SecurityApiFactory>
{
    public const int BodiesPerSeed = 40;
    private const int HugeString = 100 * 1024;
    private const int DeepNesting = 200;
    private const string OwnerSub = "fuzz-user", AdminSub = "fuzz-admin";

    /// <summary>The caller's own objects, whose ids go into paths and id fields.</summary>
    /// <param name="Message">The first user turn of <paramref name="Session"/>.</param>
    /// <param name="Reply">The reply to <paramref name="Message"/>.</param>
    public sealed record Ids(string Session, string File, string Prompt, string Assistant, string Stream, string Message, string Reply);

    /// <summary>A JSON route: who calls it, and valid bodies (a minimal one and one with every field) to start from.</summary>
    public sealed record JsonRoute(
        string Method, string Pattern, bool AsAdmin, Func<Ids, JsonObject> Minimal, Func<Ids, JsonObject> Full, string[] EnumFields,
        bool OpenAiErrors = false)
    {
        public string Key => $"{Method} {Pattern}";

        public string Path(Ids ids) => Pattern.Replace("{messageId}", ids.Message)
            .Replace("{id}", Pattern.Contains("/assistants/") ? ids.Assistant : Pattern.Contains("/prompts/") ? ids.Prompt
                : Pattern.StartsWith("/v1/chat/messages/", StringComparison.Ordinal) ? ids.Reply : ids.Session);

        public override string ToString() => Key;
    }

    private static JsonObject O(object value) => JsonSerializer.SerializeToNode(value)!.AsObject();

    private static string Unique(string prefix) => $"{prefix} {Guid.NewGuid().ToString("N")[..10]}";

    /// <summary>The maintained list of JSON-body routes; <see cref="TheListOfJsonRoutes_MatchesTheRouteTable"/> checks it against the service.</summary>
    public static readonly IReadOnlyList<JsonRoute> Routes =
    [
        new("POST", "/v1/chat/stream", false,
            ids => O(new { query = "Say hello.", model = "fake-gpt" }), // streamed (SSE): the default
            ids => O(new
            {
                messages = new object[] { new { role = "system", content = "Be brief." }, new { role = "user", content = "What is in the file?" } },
                session_id = ids.Session, model = "fake-gpt", system_prompt = "Answer in one line.", temperature = 0.5, max_tokens = 64,
                context_mode = "hybrid",
                rag_config = new
                {
                    sources = new[] { new { name = "session", model_name = "local-embed", limit = 5, similarity_threshold = 0.2, weight = 1.0, metadata_filters = new { collection = "notes" } } },
                    retrieval_strategy = "merge", max_total_results = 10,
                },
                attachment_config = new { attachments = new[] { new { document_id = ids.File, title = "Notes", max_tokens = 200, include_full_content = true } } },
                document_ids = new[] { ids.File }, embedding_model = "local-embed", stream_format = "events", stream = false,
            }),
            ["context_mode", "stream_format", "retrieval_strategy", "role", "model", "embedding_model"]),
        new("POST", "/v1/chat/completions", false,
            ids => O(new { model = "fake-gpt", messages = new[] { new { role = "user", content = "Hi" } } }),
            ids => O(new
            {
                model = "fake-gpt", messages = new[] { new { role = "system", content = "Be brief." }, new { role = "user", content = "Hi" } },
                temperature = 0.2, max_tokens = 32, max_completion_tokens = 32, stream = true, stream_options = new { include_usage = true },
                session_id = ids.Session,
            }),
            ["role", "model"], OpenAiErrors: true),
        new("POST", "/v1/chat/switch-model", false,
            ids => O(new { session_id = ids.Session, model = "fake-gpt" }),
            ids => O(new { session_id = ids.Session, model = "local-chat" }),
            ["model"]),
        new("POST", "/v1/chat/sessions", false,
            ids => O(new { }),
            ids => O(new { title = "Fuzzed session", model = "fake-gpt" }),
            ["model"]),
        new("PUT", "/v1/chat/sessions/{id}", false,
            ids => O(new { title = "Renamed" }),
            ids => O(new { title = "Renamed again" }),
            []),
        new("PATCH", "/v1/chat/sessions/{id}", false,
            ids => O(new { temperature = 0.3 }),
            ids => O(new { title = "Patched", system_prompt = "Be brief.", temperature = 0.5, max_tokens = 64, model = "fake-gpt" }),
            ["model"]),
        new("POST", "/v1/chat/sessions/{id}/active", false,
            ids => O(new { message_id = ids.Message }),
            ids => O(new { message_id = ids.Message }),
            []),
        new("POST", "/v1/chat/sessions/{id}/messages/{messageId}/regenerate", false,
            ids => O(new { }),
            ids => O(new { model = "fake-gpt", temperature = 0.3, max_tokens = 32, context_mode = "none", stream = false, stream_format = "events" }),
            ["context_mode", "stream_format", "model"]),
        new("PUT", "/v1/chat/sessions/{id}/messages/{messageId}", false,
            ids => O(new { content = "First turn, edited." }),
            ids => O(new { content = "First turn, edited again.", reply = true, model = "fake-gpt", temperature = 0.3, max_tokens = 32, context_mode = "rag", stream = false, stream_format = "events" }),
            ["context_mode", "stream_format", "model"]),
        new("POST", "/v1/chat/sessions/{id}/messages", false,
            ids => O(new { content = "One more question." }),
            ids => O(new { content = "What does the file say?", model = "fake-gpt", temperature = 0.3, max_tokens = 32, context_mode = "rag" }),
            ["context_mode", "model"]),
        new("POST", "/v1/assistants", true,
            ids => O(new { name = Unique("Fuzz") }),
            ids => O(new
            {
                name = Unique("Fuzz full"), description = "d", instructions = "Be kind.", model = "fake-gpt", requires_auth = false,
                avatar_bg_color = "#123456", avatar_text_color = "#FFFFFF",
                settings = new { temperature = 0.4, max_tokens = 128, cache = new { enabled = true, similarity_threshold = 0.95, ttl_seconds = 3600 } },
            }),
            ["model", "avatar_bg_color", "avatar_text_color"]),
        new("PUT", "/v1/assistants/{id}", true,
            ids => O(new { description = "Changed." }),
            ids => O(new
            {
                name = Unique("Fuzz renamed"), description = "d", instructions = "Be brief.", model = "fake-gpt", requires_auth = false,
                avatar_bg_color = "#abc", settings = new { temperature = 1.0, max_tokens = 256, cache = new { enabled = false, similarity_threshold = 0.9, ttl_seconds = 60 } },
            }),
            ["model", "avatar_bg_color", "avatar_text_color"]),
        new("POST", "/v1/prompts", false,
            ids => O(new { title = "Greeting", content = "Hello {name}" }),
            ids => O(new
            {
                title = "Report", content = "Summarise {topic} for {audience} {{literally}}", scenario = "writing", description = "A report",
                metadata = new { tags = new[] { "work", "report" }, owner = "me" }, is_template = false,
            }),
            ["scenario"]),
        new("PUT", "/v1/prompts/{id}", false,
            ids => O(new { title = "Renamed prompt" }),
            ids => O(new { title = "Report 2", content = "Summarise {topic}", scenario = "", description = "", metadata = new { tags = new[] { "x" } } }),
            ["scenario"]),
        new("PUT", "/v1/chat/messages/{id}/feedback", false,
            ids => O(new { rating = "up" }),
            ids => O(new { rating = "down", comment = "Missed the point." }),
            ["rating"]),
        new("POST", "/v1/embeddings", false,
            ids => O(new { input = "Hello there" }),
            ids => O(new { model = "local-embed", input = new[] { "One text.", "Another text." }, dimensions = 384, encoding_format = "base64", user = "u-1" }),
            ["model", "encoding_format"], OpenAiErrors: true),
        new("POST", "/v1/prompts/preview", false,
            ids => O(new { content = "Hello {name}", variables = new { name = "Ada" }, model = "fake-gpt" }),
            ids => O(new { prompt_id = ids.Prompt, variables = new { topic = "owls", audience = 3, extra = (string?)null }, model = "local-chat" }),
            ["model"]),
    ];

    private static int[] FuzzSeeds() =>
        Environment.GetEnvironmentVariable("CHATSLICES_FUZZ_SEEDS") is { Length: > 0 } configured
            ? configured.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).ToArray()
            : [1, 2, 3];

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (var route in Routes)
            foreach (var seed in FuzzSeeds()) data.Add(route.Key, seed);
        return data;
    }

    [Fact]
    public void TheListOfJsonRoutes_MatchesTheRouteTable()
    {
        var json = api.Routes
            .Where(r => r.Method is "POST" or "PUT" or "PATCH")
            .Where(r => r.Endpoint.Metadata.GetOrderedMetadata<IAcceptsMetadata>()
                .Any(a => a.ContentTypes.Any(t => t.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) || t.Contains("+json", StringComparison.OrdinalIgnoreCase))))
            .Select(r => r.Key).Distinct().Order().ToList();

        json.Should().BeEquivalentTo(Routes.Select(r => r.Key),
            "every route that accepts a JSON body must be in JsonFuzzTests.Routes (with valid bodies to mutate), and every listed route must still accept JSON");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task FuzzedBodies_AreNeverA500_AlwaysAProblem_AndNeverLeakInternals(string routeKey, int seed)
    {
        var route = Routes.Single(r => r.Key == routeKey);
        var ids = await OwnObjectsAsync();
        using var client = api.SocketClient(route.AsAdmin ? Tokens.Admin(AdminSub) : Tokens.For(OwnerSub));
        client.Timeout = TimeSpan.FromSeconds(30);
        var path = route.Path(ids);

        // The valid bodies get a 2xx, so the mutations below start from requests that reach the handler.
        foreach (var valid in new[] { route.Minimal(ids), route.Full(ids) })
        {
            var ok = await SendAsync(client, route, path, new FuzzBody("valid", Encoding.UTF8.GetBytes(valid.ToJsonString()), "application/json"));
            ((int)ok.Status).Should().BeInRange(200, 299, $"the valid body {valid.ToJsonString()} should succeed: {Report.Clip(ok.Text, 600)}");
        }

        var random = new Random(unchecked(seed * 7919 + StableHash(route.Key))); // not HashCode.Combine: that is randomized per process
        var generator = new BodyGenerator(random, route, ids);
        var failures = new List<string>();
        var statuses = new SortedDictionary<int, int>();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < BodiesPerSeed; i++)
        {
            var body = generator.Next(i);
            var mark = api.Log.Mark;
            var answer = await SendAsync(client, route, path, body);
            statuses[(int)answer.Status] = statuses.GetValueOrDefault((int)answer.Status) + 1;
            if (Verdict(route, answer) is { } problem)
                failures.Add($"#{i} {body.Strategy}{(body.Note is { Length: > 0 } note ? $" ({note})" : "")}: {route.Method} {path}, Content-Type {body.ContentType ?? "(none)"}, body {Report.Show(body.Bytes, 700)}\n" +
                             $"    → {(int)answer.Status} {answer.ContentType ?? "(no content type)"}: {Report.Clip(answer.Text)}\n    {problem}\n    server log: {api.Log.Describe(mark)}");
        }

        failures.Should().BeEmpty($"seed {seed} on {route.Key} ({BodiesPerSeed} bodies in {clock.ElapsedMilliseconds} ms, statuses {string.Join(", ", statuses.Select(s => $"{s.Key}×{s.Value}"))})");
    }

    /// <summary>
    /// Bodies that the fuzz pass (seeds 1–40) found to break the service, each reduced to its smallest form and kept as a
    /// fixed case, so that each kind of failure is checked on every run whatever the seeds. Same verdict as the fuzz pass.
    /// </summary>
    public static readonly IReadOnlyList<(string Name, string Route, Func<Ids, string> Body, string ContentType)> Reductions =
    [
        ("unknown charset", "POST /v1/chat/sessions", _ => """{"title":"x"}""", "application/json; charset=bogus-charset"),
        ("unknown charset (OpenAI route)", "POST /v1/chat/completions", _ => """{"messages":[{"role":"user","content":"hi"}]}""", "application/json; charset=bogus-charset"),
        ("text/plain (OpenAI route)", "POST /v1/chat/completions", _ => """{"messages":[{"role":"user","content":"hi"}]}""", "text/plain"),
        ("NUL in a session title", "POST /v1/chat/sessions", _ => """{"title":"a\u0000b"}""", "application/json"),
        ("NUL in a session rename", "PUT /v1/chat/sessions/{id}", _ => """{"title":"a\u0000b"}""", "application/json"),
        ("NUL in a prompt", "POST /v1/prompts", _ => """{"title":"t","content":"a\u0000b"}""", "application/json"),
        ("NUL in an assistant name", "POST /v1/assistants", _ => $$"""{"name":"{{Unique("nul")}}\u0000"}""", "application/json"),
        ("NUL in a chat turn", "POST /v1/chat/sessions/{id}/messages", _ => """{"content":"a\u0000b"}""", "application/json"),
        ("NUL in a streamed question", "POST /v1/chat/stream", _ => """{"query":"a\u0000b","model":"fake-gpt","stream":false}""", "application/json"),
        ("NUL in prompt metadata (jsonb)", "POST /v1/prompts", _ => """{"title":"t","content":"c","metadata":{"k":"a\u0000b"}}""", "application/json"),
        ("lone surrogate in prompt metadata", "POST /v1/prompts", _ => """{"title":"t","content":"c","metadata":{"k":"\ud800"}}""", "application/json"),
        ("lone surrogate in a retrieval filter", "POST /v1/chat/stream", ids => $$$"""{"query":"owls","session_id":"{{{ids.Session}}}","stream":false,"rag_config":{"sources":[{"name":"s","metadata_filters":{"k":"\ud800"}}]}}""", "application/json"),
        ("lone surrogate in preview variables", "POST /v1/prompts/preview", _ => """{"content":"Hi {name}","variables":{"name":"\udfff"}}""", "application/json"),
        ("null turn in messages", "POST /v1/chat/stream", _ => """{"messages":[null,{"role":"user","content":"hi"}],"stream":false}""", "application/json"),
        ("null turn in history", "POST /v1/chat/stream", _ => """{"query":"hi","history":[null],"stream":false}""", "application/json"),
        ("null attachment", "POST /v1/chat/stream", _ => """{"query":"hi","attachment_config":{"attachments":[null]},"stream":false}""", "application/json"),
        ("null retrieval source", "POST /v1/chat/stream", _ => """{"query":"hi","rag_config":{"sources":[null]},"stream":false}""", "application/json"),
        ("null turn (OpenAI route)", "POST /v1/chat/completions", _ => """{"messages":[null,{"role":"user","content":"hi"}]}""", "application/json"),
        ("wordless question, PDF session (messages route)", "POST /v1/chat/sessions/{id}/messages", _ => """{"content":"???"}""", "application/json"),
        ("wordless question, PDF session (stream: false)", "POST /v1/chat/stream", ids => $$"""{"query":"🙂","session_id":"{{ids.Session}}","stream":false}""", "application/json"),
        ("wordless question, PDF session (SSE)", "POST /v1/chat/stream", ids => $$"""{"query":"...","session_id":"{{ids.Session}}"}""", "application/json"),
    ];

    public static TheoryData<string> ReductionCases()
    {
        var data = new TheoryData<string>();
        foreach (var reduction in Reductions) data.Add(reduction.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(ReductionCases))]
    public async Task ReducedBodies_FromEarlierFuzzing_AreRefusedCleanly(string name)
    {
        var reduction = Reductions.Single(r => r.Name == name);
        var route = Routes.Single(r => r.Key == reduction.Route);
        var ids = await OwnObjectsAsync();
        using var client = api.SocketClient(route.AsAdmin ? Tokens.Admin(AdminSub) : Tokens.For(OwnerSub));
        var path = route.Path(ids);
        var body = new FuzzBody(name, Encoding.UTF8.GetBytes(reduction.Body(ids)), reduction.ContentType);
        var mark = api.Log.Mark;

        var answer = await SendAsync(client, route, path, body);

        Verdict(route, answer).Should().BeNull(
            $"{route.Method} {path} with Content-Type {body.ContentType} and body {Report.Show(body.Bytes, 700)} answered {(int)answer.Status} {answer.ContentType}: " +
            $"{Report.Clip(answer.Text)}; server log: {api.Log.Describe(mark)}");
    }

    private static string? Verdict(JsonRoute route, Answer answer) => Verdict(route.OpenAiErrors, route.Pattern, answer);

    /// <param name="openAiErrors">The route answers errors in OpenAI's shape, not problem+json.</param>
    private static string? Verdict(bool openAiErrors, string pattern, Answer answer)
    {
        var status = (int)answer.Status;
        if (answer.Broken is { } broken) return broken;
        if (status >= 500) return $"a {status}: the service failed on input it should have refused (or accepted)";
        // Kestrel refuses a request line over its 8 KB limit before the app runs: a bare 414 is all it can say.
        if (status == 414 && answer.ContentType is null && answer.Text.Length == 0) return null;
        // Scalar's script bundle (a static file) names JavaScript exceptions: it is no answer of the service's own.
        var leaks = answer.ContentType == "text/javascript" && status < 400 ? [] : new[] { "   at ", "Exception", "Npgsql" };
        foreach (var leak in leaks)
            if (answer.Text.Contains(leak, StringComparison.Ordinal)) return $"the answer contains '{leak}'";
        if (status < 400)
        {
            // A stream that started well must not end with the service's own failure (a storage or internal error).
            if (answer.Text.Contains("storage_failed", StringComparison.Ordinal) || answer.Text.Contains("\"internal", StringComparison.Ordinal))
                return "the stream ended with a failure of the service's own";
            // A stream ends with its final event: `done` (events) or `data: [DONE]` (tokens, OpenAI chunks).
            if (answer.ContentType == "text/event-stream" && !answer.Text.Contains("event: done", StringComparison.Ordinal) && !answer.Text.Contains("data: [DONE]", StringComparison.Ordinal))
                return "the stream ended without its final event";
            return null;
        }
        if (openAiErrors)
        {
            if (answer.ContentType != "application/json") return $"an error on {pattern} must be application/json in OpenAI's shape, was {answer.ContentType}";
            try
            {
                var error = JsonDocument.Parse(answer.Text).RootElement.GetProperty("error");
                return error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String && error.TryGetProperty("type", out _)
                    ? null : "the error has no message or type";
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                return "the error is not {\"error\": {message, type, code}}";
            }
        }
        if (answer.ContentType != "application/problem+json") return $"an error must be application/problem+json, was {answer.ContentType ?? "nothing"}";
        try
        {
            var problem = JsonDocument.Parse(answer.Text).RootElement;
            if (problem.GetProperty("status").GetInt32() != status) return "the problem's status differs from the HTTP status";
            foreach (var field in new[] { "title", "detail", "trace_id" })
                if (problem.GetProperty(field).GetString() is not { Length: > 0 }) return $"the problem has no {field}";
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return "the problem body is not RFC 9457 JSON with status, title, detail and trace_id";
        }
        return null;
    }

    /// <param name="Note">Where the body was changed, and to what.</param>
    public sealed record FuzzBody(string Strategy, byte[] Bytes, string? ContentType, string? Note = null);

    /// <param name="Broken">How the answer broke off (timeout, connection reset mid-body), if it did.</param>
    private sealed record Answer(HttpStatusCode Status, string? ContentType, string Text, string? Broken = null);

    private static async Task<Answer> SendAsync(HttpClient client, JsonRoute route, string path, FuzzBody body)
    {
        using var request = new HttpRequestMessage(new HttpMethod(route.Method), path);
        var content = new ByteArrayContent(body.Bytes);
        if (body.ContentType is not null) content.Headers.TryAddWithoutValidation("Content-Type", body.ContentType);
        request.Content = content;
        return await SendAsync(client, request);
    }

    /// <summary>Sends <paramref name="request"/> and reads the whole answer, within 30 s.</summary>
    private static async Task<Answer> SendAsync(HttpClient client, HttpRequestMessage request)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        HttpResponseMessage? response = null;
        var received = new MemoryStream();
        try
        {
            response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            await (await response.Content.ReadAsStreamAsync(timeout.Token)).CopyToAsync(received, timeout.Token);
            return new Answer(response.StatusCode, response.Content.Headers.ContentType?.MediaType, Encoding.UTF8.GetString(received.ToArray()));
        }
        catch (Exception e) when (e is OperationCanceledException or HttpRequestException or IOException)
        {
            return new Answer(response?.StatusCode ?? 0, response?.Content.Headers.ContentType?.MediaType, Encoding.UTF8.GetString(received.ToArray()),
                e is OperationCanceledException ? "no complete answer within 30 s" : $"the answer broke off: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            response?.Dispose();
        }
    }

    private static readonly ConcurrentDictionary<SecurityApiFactory, Lazy<Task<Ids>>> Objects = new();

    private Task<Ids> OwnObjectsAsync() => Objects.GetOrAdd(api, _ => new Lazy<Task<Ids>>(async () =>
    {
        var user = api.SocketClient(Tokens.For(OwnerSub));
        var session = (await (await user.PostAsJsonAsync("/v1/chat/sessions", new { title = "Fuzz target", model = "fake-gpt" })).ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");
        var turn = await (await user.PostAsJsonAsync($"/v1/chat/sessions/{session}/messages", new { content = "First turn." })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var message = turn.GetProperty("user_message").Str("id");
        var reply = turn.GetProperty("assistant_message").Str("id");
        var pdf = TestPdf.Create([["Fuzz notes.", "Owls sleep during the day."], ["Second page.", "Parrots talk."]], title: "Fuzz notes");
        var file = (await (await user.PostAsync($"/v1/chat/sessions/{session}/upload", Uploads.Form(pdf, "notes.pdf"))).ShouldBeJsonAsync(HttpStatusCode.Created))
            .GetProperty("file").Str("id");
        var prompt = (await (await user.PostAsJsonAsync("/v1/prompts", new { title = "Fuzz prompt", content = "Tell me about {topic} for {audience}" }))
            .ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");
        var assistant = (await (await api.SocketClient(Tokens.Admin(AdminSub)).PostAsJsonAsync("/v1/assistants", new { name = Unique("Fuzz target"), model = "fake-gpt" }))
            .ShouldBeJsonAsync(HttpStatusCode.Created)).Str("id");
        var streamed = await (await user.SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = "Second turn.", session_id = session }),
            HttpCompletionOption.ResponseHeadersRead)).Content.ReadAsStreamAsync();
        var stream = (await new SseReader(streamed).ReadAllAsync()).First(e => e.Event == "session").Json.Str("message_id");
        return new Ids(session, file, prompt, assistant, stream, message, reply);
    })).Value;

    private static int StableHash(string text) => text.Aggregate(17, (h, c) => unchecked(h * 31 + c));

    /// <summary>Makes the bodies; the strategy of body i is fixed (i modulo the strategies), its details come from the seed.</summary>
    private sealed class BodyGenerator(Random random, JsonRoute route, Ids ids)
    {
        private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

        private static readonly string[] Strategies =
        [
            "random type at a field", "random types at several fields", "100 KB string", "nesting 200 deep", "unknown enum value",
            "null", "null inside an array", "array for an object", "non-object root", "truncated JSON", "invalid UTF-8",
            "hostile string", "edge number", "unknown and duplicate fields", "empty body", "wrong content type",
        ];

        private readonly Dictionary<string, string> _raw = new();
        private readonly List<string> _notes = [];

        public FuzzBody Next(int index)
        {
            _raw.Clear();
            _notes.Clear();
            var strategy = Strategies[index % Strategies.Length];
            // Enum fields and arrays are mostly in the full body: those strategies start from it.
            var full = strategy is "unknown enum value" or "null inside an array" || random.Next(2) == 0;
            var root = (full ? route.Full(ids) : route.Minimal(ids)).DeepClone().AsObject();
            string? contentType = "application/json";
            switch (strategy)
            {
                case "random type at a field":
                    Replace(root, RandomValue(2));
                    break;
                case "random types at several fields":
                    for (var i = random.Next(2, 5); i > 0; i--) Replace(root, RandomValue(2));
                    break;
                case "100 KB string":
                    Replace(root, JsonValue.Create(RandomText(HugeString)));
                    break;
                case "nesting 200 deep":
                    Replace(root, Raw(random.Next(2) == 0
                        ? new string('[', DeepNesting) + "1" + new string(']', DeepNesting)
                        : string.Concat(Enumerable.Repeat("{\"a\":", DeepNesting)) + "1" + new string('}', DeepNesting)));
                    break;
                case "unknown enum value":
                {
                    var paths = Paths(root).Where(p => p.Key is { } key && route.EnumFields.Contains(key)).ToList();
                    var value = Pick("RAG", "rag ", " none", "unknown_" + random.Next(1000), "", "null", "0", "🙂", "gpt-4o", "merge,sequential", "EVENTS");
                    if (paths.Count == 0) Replace(root, JsonValue.Create(value));
                    else Set(paths[random.Next(paths.Count)], JsonValue.Create(value));
                    break;
                }
                case "null":
                    if (random.Next(3) == 0)
                    {
                        foreach (var property in root.Select(p => p.Key).ToList()) root[property] = null;
                        _notes.Add("every field null");
                    }
                    else Replace(root, null);
                    break;
                case "null inside an array":
                {
                    var arrays = Paths(root).Where(p => p.Node is JsonArray).ToList();
                    if (arrays.Count == 0)
                    {
                        var field = Pick("messages", "items", root.Select(p => p.Key).FirstOrDefault() ?? "x");
                        root[field] = new JsonArray(null, JsonValue.Create(1));
                        _notes.Add($"{field} = [null,1]");
                    }
                    else
                    {
                        var chosen = arrays[random.Next(arrays.Count)];
                        var array = (JsonArray)chosen.Node!;
                        var at = random.Next(array.Count + 1);
                        array.Insert(at, null);
                        _notes.Add($"{chosen.Path}[{at}] = null");
                    }
                    break;
                }
                case "array for an object":
                {
                    var objects = Paths(root).Where(p => p.Node is JsonObject).ToList();
                    if (objects.Count > 0) Set(objects[random.Next(objects.Count)], new JsonArray(RandomValue(1), RandomValue(1)));
                    else Replace(root, new JsonArray(JsonValue.Create("a"), new JsonObject()));
                    break;
                }
                case "non-object root":
                    return new FuzzBody(strategy, Encoding.UTF8.GetBytes(Pick(
                        "[]", "[" + root.ToJsonString() + "]", "\"text\"", "42", "-1.5e3", "true", "null", "{}",
                        new string('[', DeepNesting) + new string(']', DeepNesting))), contentType);
                case "truncated JSON":
                {
                    if (random.Next(2) == 0) Replace(root, RandomValue(1));
                    var bytes = Serialize(root);
                    var cut = random.Next(1, Math.Max(2, bytes.Length - 1));
                    return new FuzzBody(strategy, bytes[..cut], contentType, Notes($"cut after {cut} of {bytes.Length} bytes"));
                }
                case "invalid UTF-8":
                {
                    var strings = Paths(root).Where(p => p.Node is JsonValue v && v.GetValueKind() == JsonValueKind.String).ToList();
                    if (strings.Count > 0) Set(strings[random.Next(strings.Count)], JsonValue.Create("x__BYTES__y"));
                    else root["title"] = "x__BYTES__y";
                    var bytes = Serialize(root);
                    var marker = "__BYTES__"u8.ToArray();
                    var at = bytes.AsSpan().IndexOf(marker);
                    byte[] bad = Pick<byte[]>([0xFF], [0xC3, 0x28], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xC0, 0xAF], [0xE2, 0x82]);
                    return new FuzzBody(strategy, [.. bytes[..at], .. bad, .. bytes[(at + marker.Length)..]], contentType, Notes("bytes " + Convert.ToHexString(bad)));
                }
                case "hostile string":
                    ReplaceString(root, random.Next(3) == 0
                        ? Raw(Pick("\"\\ud800\"", "\"a\\udfffb\"", "\"\\ud83d\"", "\"\\u0000\""))
                        : JsonValue.Create(Pick(
                            "nul\u0000inside", "\u0000", "tab\tand\nnewline\r", "\u202Eright-to-left", "zero\u200Bwidth", "🙂🙂🙂",
                            "'; DROP TABLE chat_sessions; --", "%s%n%x", "{", "}", "{{", "{unclosed", "{a}{b}{c}", "$(whoami)", "../../etc/passwd",
                            "<script>alert(1)</script>", "\\", "\"", "00000000-0000-0000-0000-000000000000", "NaN", "   ")));
                    break;
                case "edge number":
                    Replace(root, Raw(Pick(
                        "1e400", "-1e400", "1e-400", "9223372036854775808", "-9223372036854775809", "2147483648", "-0", "0.0000001",
                        "1.5", "123456789012345678901234567890", "1E+2", "-2147483649", "4.9e-324", "1.7976931348623157e308")));
                    break;
                case "unknown and duplicate fields":
                {
                    root[Pick("__proto__", "constructor", "$where", "unknown_" + random.Next(1000), "Title", "SESSION_ID")] = RandomValue(1);
                    var text = Encoding.UTF8.GetString(Serialize(root));
                    var key = root.Select(p => p.Key).ElementAtOrDefault(random.Next(Math.Max(1, root.Count))) ?? "title";
                    var duplicate = $"\"{key}\":{RandomValue(1)?.ToJsonString() ?? "null"},";
                    return new FuzzBody(strategy, Encoding.UTF8.GetBytes("{" + duplicate + text[1..]), contentType, Notes($"{key} twice"));
                }
                case "empty body":
                    return new FuzzBody(strategy, [], Pick<string?>("application/json", "application/json; charset=utf-8", null));
                case "wrong content type":
                    contentType = Pick<string?>(
                        "text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz", null,
                        "application/json; charset=utf-16", "application/json; charset=bogus-charset", "application/jsonx", "json", "*/*");
                    break;
            }
            return new FuzzBody(strategy, Serialize(root), contentType, Notes());
        }

        private string Notes(params string[] more) => string.Join("; ", _notes.Concat(more));

        private string Summary(JsonNode? value)
        {
            if (value is null) return "null";
            var text = value.ToJsonString();
            foreach (var (key, json) in _raw) text = text.Replace($"\"{key}\"", json);
            return text.Length > 60 ? $"{text[..40]}… ({text.Length} characters)" : text;
        }

        private T Pick<T>(params T[] options) => options[random.Next(options.Length)];

        private Guid RandomGuid()
        {
            var bytes = new byte[16];
            random.NextBytes(bytes);
            return new Guid(bytes);
        }

        private JsonNode Raw(string json)
        {
            var key = $"__RAW_{_raw.Count}__";
            _raw[key] = json;
            return JsonValue.Create(key)!;
        }

        private byte[] Serialize(JsonNode root)
        {
            var text = root.ToJsonString(random.Next(2) == 0 ? Relaxed : JsonSerializerOptions.Default);
            foreach (var (key, json) in _raw) text = text.Replace($"\"{key}\"", json);
            return Encoding.UTF8.GetBytes(text);
        }

        private sealed record PathRef(JsonNode Parent, string? Key, int Index, JsonNode? Node, string Path);

        /// <summary>Every node below the root (fields of nested objects and array elements too).</summary>
        private static List<PathRef> Paths(JsonNode root)
        {
            var paths = new List<PathRef>();
            void Walk(JsonNode node, string at)
            {
                if (node is JsonObject obj)
                    foreach (var (key, child) in obj.ToList())
                    {
                        var path = at.Length == 0 ? key : $"{at}.{key}";
                        paths.Add(new PathRef(obj, key, -1, child, path));
                        if (child is not null) Walk(child, path);
                    }
                else if (node is JsonArray array)
                    for (var i = 0; i < array.Count; i++)
                    {
                        paths.Add(new PathRef(array, null, i, array[i], $"{at}[{i}]"));
                        if (array[i] is { } child) Walk(child, $"{at}[{i}]");
                    }
            }
            Walk(root, "");
            return paths;
        }

        private void Set(PathRef path, JsonNode? value)
        {
            _notes.Add($"{path.Path} = {Summary(value)}");
            if (path.Parent is JsonObject obj) obj[path.Key!] = value;
            else ((JsonArray)path.Parent)[path.Index] = value;
        }

        /// <summary>Replaces a random node (or adds a known field of the full body when that is absent).</summary>
        private void Replace(JsonObject root, JsonNode? value)
        {
            var known = route.Full(ids).Select(p => p.Key).Concat(route.Minimal(ids).Select(p => p.Key)).Distinct().ToList();
            var paths = Paths(root);
            if (paths.Count == 0 || random.Next(5) == 0)
            {
                var field = known.Count > 0 ? known[random.Next(known.Count)] : "title";
                _notes.Add($"{field} = {Summary(value)}");
                root[field] = value;
            }
            else Set(paths[random.Next(paths.Count)], value);
        }

        /// <summary>Replaces a string value (nested ones too) most of the time, else any node.</summary>
        private void ReplaceString(JsonObject root, JsonNode? value)
        {
            var strings = Paths(root).Where(p => p.Node is JsonValue v && v.GetValueKind() == JsonValueKind.String).ToList();
            if (strings.Count == 0 || random.Next(4) == 0) Replace(root, value);
            else Set(strings[random.Next(strings.Count)], value);
        }

        private JsonNode? RandomValue(int depth)
        {
            switch (random.Next(depth > 0 ? 12 : 9))
            {
                case 0: return null;
                case 1: return JsonValue.Create(random.Next(2) == 0);
                case 2: return JsonValue.Create(Pick(0, 1, -1, int.MaxValue, int.MinValue, random.Next(-100000, 100000)));
                case 3: return JsonValue.Create(Pick(0.5, -0.0001, 1e10, -3.5, double.MaxValue, random.NextDouble() * 10));
                case 4: return JsonValue.Create(RandomText(random.Next(0, 40)));
                case 5: return JsonValue.Create(Pick(RandomGuid().ToString(), ids.Session, ids.File, ids.Prompt, ids.Assistant, "not-a-uuid", Guid.Empty.ToString()));
                case 6: return JsonValue.Create(Pick("fake-gpt", "local-chat", "tiny-gpt", "local-embed", "fake-embed", "gpt-imaginary"));
                case 7: return JsonValue.Create(Pick("user", "assistant", "system", "tool", "rag", "none", "events", "tokens", "merge"));
                case 8: return JsonValue.Create("");
                case 9: return new JsonArray(Enumerable.Range(0, random.Next(4)).Select(_ => RandomValue(depth - 1)).ToArray());
                case 10:
                {
                    var obj = new JsonObject();
                    for (var i = random.Next(4); i > 0; i--)
                        obj[Pick("role", "content", "name", "document_id", "limit", "enabled", "tags", "x", RandomText(5))] = RandomValue(depth - 1);
                    return obj;
                }
                default: return new JsonArray(new JsonObject { ["role"] = "user", ["content"] = RandomValue(0) });
            }
        }

        private const string Alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;!?-_/{}[]()\"'\\@#%&*+=<>|~`$^éßø漢字Ж\n\t";

        /// <summary>Random text (never one of the markers the answers are searched for).</summary>
        private string RandomText(int length)
        {
            var text = new StringBuilder(length);
            for (var i = 0; i < length; i++)
            {
                if (random.Next(50) == 0 && i + 1 < length)
                {
                    text.Append("🙂");
                    i++;
                }
                else text.Append(Alphabet[random.Next(Alphabet.Length)]);
            }
            var result = text.ToString();
            return result.Contains("   at ") || result.Contains("Exception") || result.Contains("Npgsql") ? RandomText(length) : result;
        }
    }
}
