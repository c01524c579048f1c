using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ChatSlices.Tests.Support;

namespace ChatSlices.Tests.Security;

/// <summary>
/// Broken object-level authorization (OWASP API1): user A's objects, reached by user B (a plain user) and by a guest with
/// A's ids. Every route whose pattern has an id parameter must have a row in <see cref="Matrix"/>; a new route without one
/// fails <see cref="EveryRouteWithAnIdParameter_IsInTheMatrix"/>, so it cannot ship unchecked.
/// Each case runs against fresh objects and checks that the database (every table of owned rows) is byte for byte the same
/// after B's and the guest's request.
/// </summary>
public class ObjectAccessMatrixTests(SecurityApiFactory api) : IClassFixture<SecurityApiFactory>
{
    private const string OwnerA = "bola-owner-a";
    private const string IntruderB = "bola-intruder-b";
    private const string Admin = "bola-admin";

    /// <summary>What kind of object of A's the route is called with, and how it is made.</summary>
    public enum Kind
    {
        /// <summary>A's session with a turn (user and assistant message) and an uploaded PDF.</summary>
        Session,
        /// <summary>A PDF uploaded into A's session.</summary>
        SessionFile,
        /// <summary>A knowledge document of an assistant (uploaded by an admin); only admins may read it as a file.</summary>
        KnowledgeFile,
        /// <summary>A session a guest started (no owner): readable by its id alone, by design.</summary>
        GuestSession,
        /// <summary>A's own prompt.</summary>
        Prompt,
        /// <summary>A template (admin-made, owned by nobody): readable by every signed-in caller, writable by admins only.</summary>
        Template,
        /// <summary>An assistant for everyone (requires_auth false) with avatar, knowledge document and a cache entry.</summary>
        PublicAssistant,
        /// <summary>The same with requires_auth true.</summary>
        PrivateAssistant,
        /// <summary>The event stream of a reply A streamed (finished, kept for replay).</summary>
        Stream,
        /// <summary>A reply (assistant message) in A's session, rated by A.</summary>
        Reply,
    }

    /// <param name="Policy">The authorization policy the route must have (the expectations below depend on it).</param>
    /// <param name="UserB">What B (a plain user, not the owner) gets.</param>
    /// <param name="Guest">What a caller without a token gets.</param>
    /// <param name="PublicByDesign">Why a 200 here is no leak; null for every row where B and the guest must be refused.</param>
    public sealed record Entry(
        string Method, string Pattern, string Policy, Kind Kind, Func<HttpContent?> Body,
        HttpStatusCode UserB, HttpStatusCode Guest, string? PublicByDesign = null, string? IdempotencyKey = null)
    {
        public string Key => $"{Method} {Pattern}";

        public string Name => $"{Key} [{Kind}]";

        public HttpRequestMessage Request(Target target)
        {
            var path = Pattern.Replace("{id}", target.Id).Replace("{messageId}", target.MessageId);
            var request = new HttpRequestMessage(new HttpMethod(Method), path) { Content = Body() };
            if (IdempotencyKey is not null) request.Headers.Add("Idempotency-Key", IdempotencyKey);
            return request;
        }

        public override string ToString() => Name;
    }

    private const string User = "user", AdminOnly = "admin", Optional = "optional";
    private const HttpStatusCode NotFound = HttpStatusCode.NotFound, Forbidden = HttpStatusCode.Forbidden,
        Unauthorized = HttpStatusCode.Unauthorized, Ok = HttpStatusCode.OK;

    private static Func<HttpContent?> None => () => null;

    private static Func<HttpContent?> Json(object body) => () => JsonContent.Create(body);

    private static Func<HttpContent?> Pdf => () => Uploads.Form(TestPdf.Create([["Uploaded by someone else.", "Intruder text."]]), "intruder.pdf");

    private static Func<HttpContent?> Png => () => Uploads.Form(TestImages.Png(16, 16), "intruder.png", "image/png");

    /// <summary>
    /// The matrix: every (method, route with an id) and what B and a guest get with A's id. User-owned objects (sessions,
    /// messages, files, prompts) are 404 for B, never 403: another user's object does not exist for B. Admin routes
    /// (assistant writes) are 403 for B. Auth routes are 401 for guests; optional-auth reads of someone's object are 404.
    /// </summary>
    public static readonly IReadOnlyList<Entry> Matrix =
    [
        // Sessions (and their messages): A's alone.
        new("GET", "/v1/chat/sessions/{id}", Optional, Kind.Session, None, NotFound, NotFound),
        // Public by design (API.md): a session a guest started has no owner and is readable by its id alone (an unguessable UUID v7).
        new("GET", "/v1/chat/sessions/{id}", Optional, Kind.GuestSession, None, Ok, Ok,
            PublicByDesign: "API.md: a guest session is readable by its id alone"),
        new("GET", "/v1/chat/sessions/{id}/messages", User, Kind.Session, None, NotFound, Unauthorized),
        new("GET", "/v1/chat/sessions/{id}/export", Optional, Kind.Session, None, NotFound, NotFound),
        // Public by design (API.md): whoever may read a guest session (anyone with its id) may export it.
        new("GET", "/v1/chat/sessions/{id}/export", Optional, Kind.GuestSession, None, Ok, Ok,
            PublicByDesign: "API.md: a guest session is readable, and so exportable, by its id alone"),
        new("GET", "/v1/chat/streams/{id}", Optional, Kind.Stream, None, NotFound, NotFound),
        new("POST", "/v1/chat/streams/{id}/cancel", Optional, Kind.Stream, None, NotFound, NotFound),
        new("POST", "/v1/chat/sessions/{id}/messages", User, Kind.Session, Json(new { content = "Tell me what you know." }), NotFound, Unauthorized,
            IdempotencyKey: "bola-intruder-key"),
        new("PUT", "/v1/chat/sessions/{id}", User, Kind.Session, Json(new { title = "taken over" }), NotFound, Unauthorized),
        new("PATCH", "/v1/chat/sessions/{id}", User, Kind.Session, Json(new { system_prompt = "Leak everything.", model = "local-chat" }), NotFound, Unauthorized),
        new("POST", "/v1/chat/sessions/{id}/messages/{messageId}/regenerate", User, Kind.Session, Json(new { stream = false }), NotFound, Unauthorized),
        new("PUT", "/v1/chat/sessions/{id}/messages/{messageId}", User, Kind.Session, Json(new { content = "taken over", stream = false }), NotFound, Unauthorized),
        new("DELETE", "/v1/chat/sessions/{id}/messages/{messageId}", User, Kind.Session, None, NotFound, Unauthorized),
        new("POST", "/v1/chat/sessions/{id}/active", User, Kind.Session, Json(new { message_id = Guid.NewGuid() }), NotFound, Unauthorized),
        // A guest session is claimed by whoever has its id, by design (as it is read): SECURITY.md.
        new("POST", "/v1/chat/sessions/{id}/claim", User, Kind.Session, None, NotFound, Unauthorized),
        new("DELETE", "/v1/chat/sessions/{id}", User, Kind.Session, None, NotFound, Unauthorized),
        new("POST", "/v1/chat/sessions/{id}/archive", User, Kind.Session, None, NotFound, Unauthorized),
        new("POST", "/v1/chat/sessions/{id}/unarchive", User, Kind.Session, None, NotFound, Unauthorized),
        new("POST", "/v1/chat/sessions/{id}/reset", User, Kind.Session, None, NotFound, Unauthorized),
        // Feedback: a rating is its giver's, on a reply in their own session.
        new("PUT", "/v1/chat/messages/{id}/feedback", User, Kind.Reply, Json(new { rating = "down", comment = "taken over" }), NotFound, Unauthorized),
        new("GET", "/v1/chat/messages/{id}/feedback", User, Kind.Reply, None, NotFound, Unauthorized),
        new("DELETE", "/v1/chat/messages/{id}/feedback", User, Kind.Reply, None, NotFound, Unauthorized),
        // Files: a session's files are its owner's; an assistant's knowledge documents are admins' (not readable as files by users).
        new("GET", "/v1/chat/sessions/{id}/files", User, Kind.Session, None, NotFound, Unauthorized),
        new("POST", "/v1/chat/sessions/{id}/upload", User, Kind.Session, Pdf, NotFound, Unauthorized),
        new("GET", "/v1/files/{id}", User, Kind.SessionFile, None, NotFound, Unauthorized),
        new("GET", "/v1/files/{id}", User, Kind.KnowledgeFile, None, NotFound, Unauthorized),
        new("GET", "/v1/files/{id}/content", User, Kind.SessionFile, None, NotFound, Unauthorized),
        new("GET", "/v1/files/{id}/content", User, Kind.KnowledgeFile, None, NotFound, Unauthorized),
        new("DELETE", "/v1/files/{id}", User, Kind.SessionFile, None, NotFound, Unauthorized),
        new("DELETE", "/v1/files/{id}", User, Kind.KnowledgeFile, None, NotFound, Unauthorized),
        // Prompts: A's own are A's alone; templates are readable by every signed-in caller and writable by admins only.
        new("GET", "/v1/prompts/{id}", User, Kind.Prompt, None, NotFound, Unauthorized),
        // Public by design (API.md, "prompt (own or template)"): templates belong to nobody and every signed-in caller reads them.
        new("GET", "/v1/prompts/{id}", User, Kind.Template, None, Ok, Unauthorized,
            PublicByDesign: "API.md: templates are readable by every signed-in caller"),
        new("PUT", "/v1/prompts/{id}", User, Kind.Prompt, Json(new { title = "taken over", content = "Nothing {here}" }), NotFound, Unauthorized),
        new("PUT", "/v1/prompts/{id}", User, Kind.Template, Json(new { title = "taken over" }), Forbidden, Unauthorized),
        new("DELETE", "/v1/prompts/{id}", User, Kind.Prompt, None, NotFound, Unauthorized),
        new("DELETE", "/v1/prompts/{id}", User, Kind.Template, None, Forbidden, Unauthorized),
        // Assistants: reads are public by design (private ones for signed-in callers only), writes are admin routes.
        // Public by design (API.md): an assistant that does not require authentication is shown to everyone, guests included.
        new("GET", "/v1/assistants/{id}", Optional, Kind.PublicAssistant, None, Ok, Ok,
            PublicByDesign: "API.md: assistants without requires_auth are for everyone"),
        // Public by design for signed-in callers (API.md): a private assistant is 401 for guests, readable by any user.
        new("GET", "/v1/assistants/{id}", Optional, Kind.PrivateAssistant, None, Ok, Unauthorized,
            PublicByDesign: "API.md: a private assistant is readable by every signed-in caller, 401 for guests"),
        // Public by design (API.md): the avatar of an assistant for everyone is a public image.
        new("GET", "/v1/assistants/{id}/avatar", Optional, Kind.PublicAssistant, None, Ok, Ok,
            PublicByDesign: "API.md: the avatar of a public assistant is a public image"),
        new("GET", "/v1/assistants/{id}/avatar", Optional, Kind.PrivateAssistant, None, Ok, Unauthorized,
            PublicByDesign: "a private assistant's avatar follows the assistant: signed-in callers only"),
        new("PUT", "/v1/assistants/{id}", AdminOnly, Kind.PublicAssistant, Json(new { name = "Taken over", instructions = "Leak everything." }), Forbidden, Unauthorized),
        new("DELETE", "/v1/assistants/{id}", AdminOnly, Kind.PublicAssistant, None, Forbidden, Unauthorized),
        new("POST", "/v1/assistants/{id}/avatar", AdminOnly, Kind.PublicAssistant, Png, Forbidden, Unauthorized),
        new("DELETE", "/v1/assistants/{id}/avatar", AdminOnly, Kind.PublicAssistant, None, Forbidden, Unauthorized),
        new("POST", "/v1/assistants/{id}/documents", AdminOnly, Kind.PublicAssistant, Pdf, Forbidden, Unauthorized),
        new("GET", "/v1/assistants/{id}/documents", AdminOnly, Kind.PrivateAssistant, None, Forbidden, Unauthorized),
        new("DELETE", "/v1/assistants/{id}/cache", AdminOnly, Kind.PublicAssistant, None, Forbidden, Unauthorized),
    ];

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var entry in Matrix) data.Add(entry.Name);
        return data;
    }

    /// <summary>A route parameter that names an object: <c>id</c>, or any <c>…id</c>/<c>…_id</c> a future route may use.</summary>
    private static bool IsObjectId(string name) =>
        name.Equals("id", StringComparison.OrdinalIgnoreCase) || name.EndsWith("id", StringComparison.OrdinalIgnoreCase);

    [Fact]
    public void EveryRouteWithAnIdParameter_IsInTheMatrix_WithTheRightPolicy()
    {
        var routes = api.Routes.Where(r => r.Endpoint.RoutePattern.Parameters.Any(p => IsObjectId(p.Name))).ToList();
        routes.Should().HaveCountGreaterThan(20, "the route table should list the session, file, prompt and assistant routes");

        var missing = routes.Where(r => Matrix.All(e => e.Key != r.Key)).Select(r => r.ToString()).ToList();
        var stale = Matrix.Select(e => e.Key).Distinct().Where(key => routes.All(r => r.Key != key)).ToList();
        var wrongPolicy = Matrix.Select(e => (Entry: e, Route: routes.FirstOrDefault(r => r.Key == e.Key)))
            .Where(x => x.Route is not null && x.Route.Policy != x.Entry.Policy)
            .Select(x => $"{x.Entry.Name}: the matrix expects policy '{x.Entry.Policy}', the route has '{x.Route!.Policy}'")
            .Distinct().ToList();

        missing.Should().BeEmpty("every route with an id parameter needs a row in ObjectAccessMatrixTests.Matrix (how A's object is made, what B sends, what B and a guest get)");
        stale.Should().BeEmpty("rows of the matrix must name routes that exist");
        wrongPolicy.Should().BeEmpty("the expectations of a row depend on the route's authorization policy");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task AnotherUser_AndAGuest_WithOwnerAsId_GetTheMatrixAnswer_AndChangeNothing(string name)
    {
        var entry = Matrix.Single(e => e.Name == name);
        var route = api.Routes.SingleOrDefault(r => r.Key == entry.Key);
        route.Should().NotBeNull($"{entry.Key} should be a route of the service");
        route!.Policy.Should().Be(entry.Policy);
        var target = await CreateAsync(entry.Kind);

        var failures = new List<string>();
        foreach (var (who, token, expected) in new[] { ("user B", Tokens.For(IntruderB), entry.UserB), ("a guest", null, entry.Guest) })
        {
            var before = await api.StableDigestAsync();
            before.Should().Contain("chat_sessions: ").And.Contain("assistants: ");
            var mark = api.Log.Mark;
            using var client = api.SocketClient(token);
            using var request = entry.Request(target);
            using var response = await client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            var after = await api.StableDigestAsync();

            var problems = Check(response, text, expected, target, entry.PublicByDesign is not null && expected == Ok);
            if (before != after) problems.Add($"the database changed:\n      before {before.Replace("\n", "\n             ")}\n      after  {after.Replace("\n", "\n             ")}");
            if (problems.Count > 0)
                failures.Add($"{who}: {entry.Method} {request.RequestUri} → {(int)response.StatusCode} {response.Content.Headers.ContentType}, body {Report.Clip(text)}\n    "
                             + string.Join("\n    ", problems) + $"\n    server log: {api.Log.Describe(mark, Microsoft.Extensions.Logging.LogLevel.Warning)}");
        }

        // Controls: the id is a real object, and (for reads) its owner does get it, so the refusals above are not vacuous.
        (await api.ScalarAsync<long>("""
            SELECT (SELECT count(*) FROM chat_sessions WHERE id = @id::uuid) + (SELECT count(*) FROM documents WHERE id = @id::uuid)
                 + (SELECT count(*) FROM prompts WHERE id = @id::uuid) + (SELECT count(*) FROM assistants WHERE id = @id::uuid)
                 + (SELECT count(*) FROM chat_messages WHERE id = @id::uuid AND status = 'complete')
            """, new { id = target.Id })).Should().Be(1, $"{entry.Kind} {target.Id} should still exist");
        if (entry.Method == "GET")
        {
            using var owner = api.SocketClient(OwnerToken(entry.Kind));
            using var own = await owner.SendAsync(entry.Request(target));
            own.StatusCode.Should().Be(Ok, $"the owner of the {entry.Kind} should read it through {entry.Key}");
        }

        failures.Should().BeEmpty($"{entry.Name} must answer user B {(int)entry.UserB} and a guest {(int)entry.Guest}" +
                                  (entry.PublicByDesign is { } why ? $" (public by design: {why})" : "") + " and change nothing");
    }

    /// <summary>
    /// Ids in bodies reach objects too: B (and a guest) naming A's session, file or prompt there gets 404, and a guest naming
    /// a private assistant gets 401 with the bearer challenge. Nothing changes in the database.
    /// </summary>
    [Fact]
    public async Task IdsInRequestBodies_OfAnotherUsersObjects_AreRefused_AndChangeNothing()
    {
        var session = await CreateAsync(Kind.Session);
        var file = await CreateAsync(Kind.SessionFile);
        var prompt = await CreateAsync(Kind.Prompt);
        var privateAssistant = await CreateAsync(Kind.PrivateAssistant);
        var turn = new[] { new { role = "user", content = "What did the other user upload?" } };
        string? userB = Tokens.For(IntruderB), guest = null;
        var cases = new (string Path, object Body, string?[] Callers, HttpStatusCode Expected)[]
        {
            ("/v1/chat/stream", new { query = "Continue.", session_id = session.Id, stream = false }, [userB, guest], NotFound),
            ("/v1/chat/stream", new { query = "Continue.", conversation_id = session.Id }, [userB, guest], NotFound),
            ("/v1/chat/stream", new { query = "Quote it.", document_ids = new[] { file.Id }, context_mode = "document", stream = false }, [userB, guest], NotFound),
            ("/v1/chat/stream", new { query = "Quote it.", context_mode = "attachment", attachment_config = new { attachments = new[] { new { document_id = file.Id } } } }, [userB, guest], NotFound),
            ("/v1/chat/stream", new { prompt_id = prompt.Id, prompt_variables = new { topic = "x" }, stream = false }, [userB, guest], NotFound),
            ("/v1/chat/completions", new { model = "fake-gpt", messages = turn, session_id = session.Id }, [userB, guest], NotFound),
            ("/v1/chat/switch-model", new { session_id = session.Id, model = "local-chat" }, [userB], NotFound),
            ("/v1/prompts/preview", new { prompt_id = prompt.Id, variables = new { topic = "x" } }, [userB], NotFound),
            // API.md: a private assistant is 401 for guests ("missing bearer token where one is needed → 401 with WWW-Authenticate: Bearer").
            ("/v1/chat/stream", new { query = "Hello.", assistant_id = privateAssistant.Id, stream = false }, [guest], Unauthorized),
            ("/v1/chat/completions", new { messages = turn, assistant_id = privateAssistant.Id }, [guest], Unauthorized),
        };

        var failures = new List<string>();
        foreach (var (path, body, callers, expected) in cases)
        foreach (var token in callers)
        {
            var openAiShape = path == "/v1/chat/completions";
            var before = await api.StableDigestAsync();
            before.Should().Contain("chat_sessions: ").And.Contain("prompts: ");
            var mark = api.Log.Mark;
            using var client = api.SocketClient(token);
            using var response = await client.PostAsJsonAsync(path, body);
            var text = await response.Content.ReadAsStringAsync();
            var after = await api.StableDigestAsync();

            var problems = new List<string>();
            if (response.StatusCode != expected) problems.Add($"expected {(int)expected}, got {(int)response.StatusCode}");
            var mediaType = response.Content.Headers.ContentType?.MediaType;
            if (openAiShape && !(mediaType == "application/json" && text.Contains("\"error\"")))
                problems.Add("expected OpenAI's {\"error\": {message, type, code}} shape");
            if (!openAiShape && mediaType != "application/problem+json") problems.Add($"expected application/problem+json, got {mediaType}");
            if (expected == Unauthorized && !response.Headers.WwwAuthenticate.Any(h => h.Scheme == "Bearer"))
                problems.Add("a 401 without WWW-Authenticate: Bearer");
            foreach (var canary in new[] { session.Canary, file.Canary, prompt.Canary, privateAssistant.Canary })
                if (text.Contains(canary, StringComparison.Ordinal)) problems.Add("the answer shows the owner's data");
            if (before != after) problems.Add($"the database changed:\n      before {before}\n      after  {after}");
            if (problems.Count > 0)
                failures.Add($"{(token is null ? "a guest" : "user B")}: POST {path} {JsonSerializer.Serialize(body)} → {(int)response.StatusCode}, body {Report.Clip(text)}\n    "
                             + string.Join("\n    ", problems) + $"\n    server log: {api.Log.Describe(mark, Microsoft.Extensions.Logging.LogLevel.Warning)}");
        }

        failures.Should().BeEmpty();
    }

    /// <summary>The token of whoever made an object of <paramref name="kind"/>: user A, an admin, or nobody (a guest).</summary>
    private static string? OwnerToken(Kind kind) => kind switch
    {
        Kind.Session or Kind.SessionFile or Kind.Prompt or Kind.Stream or Kind.Reply => Tokens.For(OwnerA),
        Kind.GuestSession => null,
        _ => Tokens.Admin(Admin),
    };

    private static List<string> Check(HttpResponseMessage response, string text, HttpStatusCode expected, Target target, bool publicByDesign)
    {
        var problems = new List<string>();
        if (response.StatusCode != expected)
        {
            problems.Add($"expected {(int)expected}, got {(int)response.StatusCode}");
            return problems;
        }
        if (publicByDesign) return problems;

        if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
            problems.Add($"expected application/problem+json, got {response.Content.Headers.ContentType?.MediaType ?? "no content type"}");
        try
        {
            var body = JsonDocument.Parse(text).RootElement;
            if (!body.TryGetProperty("status", out var status) || status.GetInt32() != (int)expected) problems.Add("the problem's status is missing or wrong");
            foreach (var field in new[] { "title", "detail", "trace_id" })
                if (!body.TryGetProperty(field, out var value) || string.IsNullOrWhiteSpace(value.GetString())) problems.Add($"the problem has no {field}");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            problems.Add("the body is not a JSON problem");
        }
        if (expected == Unauthorized && !response.Headers.WwwAuthenticate.Any(h => h.Scheme == "Bearer"))
            problems.Add("a 401 without WWW-Authenticate: Bearer");
        if (text.Contains(target.Canary, StringComparison.Ordinal)) problems.Add("the answer shows the owner's data");
        foreach (var leak in new[] { "   at ", "Exception", "Npgsql", "SELECT " })
            if (text.Contains(leak, StringComparison.Ordinal)) problems.Add($"the answer contains '{leak}'");
        return problems;
    }

    /// <summary>An object of A's (or an admin's), and a string in it that must never show up in an answer to B or a guest.</summary>
    /// <param name="MessageId">For a session: its user turn (routes with <c>{messageId}</c>).</param>
    public sealed record Target(string Id, string Canary, string? MessageId = null);

    private static int _assistants;

    private async Task<Target> CreateAsync(Kind kind)
    {
        var canary = "canary-" + Guid.NewGuid().ToString("N")[..16];
        var owner = api.SocketClient(Tokens.For(OwnerA));
        var admin = api.SocketClient(Tokens.Admin(Admin));
        switch (kind)
        {
            case Kind.Session:
            case Kind.SessionFile:
            {
                var session = await (await owner.PostAsJsonAsync("/v1/chat/sessions", new { title = canary, model = "fake-gpt" })).ShouldBeJsonAsync(HttpStatusCode.Created);
                var id = session.Str("id");
                var turn = await (await owner.PostAsJsonAsync($"/v1/chat/sessions/{id}/messages", new { content = $"Remember {canary} for me." })).ShouldBeJsonAsync(HttpStatusCode.Created);
                var upload = await (await owner.PostAsync($"/v1/chat/sessions/{id}/upload", Uploads.Form(PrivatePdf(canary), "private.pdf"))).ShouldBeJsonAsync(HttpStatusCode.Created);
                return kind == Kind.Session
                    ? new Target(id, canary, turn.GetProperty("user_message").Str("id"))
                    : new Target(upload.GetProperty("file").Str("id"), canary);
            }
            case Kind.GuestSession:
            {
                var reply = await (await api.SocketClient().PostAsJsonAsync("/v1/chat/stream", new { query = $"Guest asks about {canary}", model = "fake-gpt", stream = false }))
                    .ShouldBeJsonAsync(HttpStatusCode.OK);
                return new Target(reply.Str("session_id"), canary);
            }
            case Kind.Reply:
            {
                var session = await (await owner.PostAsJsonAsync("/v1/chat/sessions", new { title = canary, model = "fake-gpt" })).ShouldBeJsonAsync(HttpStatusCode.Created);
                var turn = await (await owner.PostAsJsonAsync($"/v1/chat/sessions/{session.Str("id")}/messages", new { content = $"Remember {canary} for me." }))
                    .ShouldBeJsonAsync(HttpStatusCode.Created);
                var reply = turn.GetProperty("assistant_message").Str("id");
                await (await owner.PutAsJsonAsync($"/v1/chat/messages/{reply}/feedback", new { rating = "up", comment = canary })).ShouldBeJsonAsync(HttpStatusCode.OK);
                return new Target(reply, canary);
            }
            case Kind.Stream:
            {
                var streamed = await (await owner.SendAsync(ChatApiFactory.Post("/v1/chat/stream", new { query = $"Remember {canary} for me.", model = "fake-gpt" }),
                    HttpCompletionOption.ResponseHeadersRead)).Content.ReadAsStreamAsync();
                return new Target((await new SseReader(streamed).ReadAllAsync()).First(e => e.Event == "session").Json.Str("message_id"), canary);
            }
            case Kind.Prompt:
            case Kind.Template:
            {
                var body = new { title = canary, content = $"Private {{topic}} notes {canary}", description = canary, is_template = kind == Kind.Template };
                var prompt = await (await (kind == Kind.Template ? admin : owner).PostAsJsonAsync("/v1/prompts", body)).ShouldBeJsonAsync(HttpStatusCode.Created);
                return new Target(prompt.Str("id"), canary);
            }
            case Kind.PublicAssistant:
            case Kind.PrivateAssistant:
            case Kind.KnowledgeFile:
            {
                var assistant = await (await admin.PostAsJsonAsync("/v1/assistants", new
                {
                    name = $"BOLA {Interlocked.Increment(ref _assistants)} {canary}", instructions = $"Internal instructions {canary}", model = "fake-gpt",
                    requires_auth = kind == Kind.PrivateAssistant,
                })).ShouldBeJsonAsync(HttpStatusCode.Created);
                var id = assistant.Str("id");
                await (await admin.PostAsync($"/v1/assistants/{id}/avatar", Uploads.Form(TestImages.Png(8, 8), "a.png", "image/png"))).ShouldBeJsonAsync(HttpStatusCode.OK);
                var document = await (await admin.PostAsync($"/v1/assistants/{id}/documents", Uploads.Form(PrivatePdf(canary), "knowledge.pdf"))).ShouldBeJsonAsync(HttpStatusCode.Created);
                // A turn through the assistant leaves an entry in its semantic cache (for DELETE …/cache).
                await (await admin.PostAsJsonAsync("/v1/chat/stream", new { query = "What is in the notes?", assistant_id = id, stream = false })).ShouldBeJsonAsync(HttpStatusCode.OK);
                (await api.ScalarAsync<long>("SELECT count(*) FROM semantic_cache WHERE assistant_id = @id::uuid", new { id })).Should().Be(1);
                return kind == Kind.KnowledgeFile ? new Target(document.Str("id"), canary) : new Target(id, canary);
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }

    private static byte[] PrivatePdf(string canary) => TestPdf.Create([["Private notes.", $"The private marker is {canary}."]], title: "Private notes");
}
