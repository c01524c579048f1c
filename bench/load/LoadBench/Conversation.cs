using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace ChatSlices.LoadBench;

/// <summary>
/// One user's conversation: a session, then the turns one after the other, each sent the way its seeded draw says
/// (SSE stream, OpenAI format streamed or not, non-streaming message), some streamed ones abandoned mid-reply.
/// </summary>
public sealed class Conversation(HttpClient http, Uri service, string userId, string token, Random rng, int turns, LoadOptions o)
{
    private static readonly JsonSerializerOptions Snake = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    private Guid _sessionId;

    public List<Turn> Turns { get; } = [];

    public async Task RunAsync(CancellationToken stop)
    {
        // Every draw first, so that the plan depends on the seed only, not on what the service answers.
        for (var i = 0; i < turns; i++)
        {
            var pick = rng.Next(100);
            var kind = pick < 40 ? TurnKind.Stream : pick < 60 ? TurnKind.CompletionsStream : pick < 75 ? TurnKind.Completions : TurnKind.Messages;
            int? abortAfter = kind.Streams() && rng.Next(100) < o.AbortPercent ? 1 + rng.Next(Math.Max(1, o.Chunks / 4)) : null;
            var retry = kind == TurnKind.Messages && rng.Next(100) < o.RetryPercent;
            Turns.Add(new Turn(userId, i, kind, $"load {userId} turn {i} {rng.Next():x8}", abortAfter, retry));
        }

        string? sessionProblem;
        try
        {
            sessionProblem = await CreateSessionAsync(stop);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException or TaskCanceledException && !stop.IsCancellationRequested)
        {
            sessionProblem = $"{e.GetType().Name}: {e.Message}";
        }
        if (sessionProblem is not null)
        {
            foreach (var turn in Turns) turn.Error = "no session: " + sessionProblem;
            return;
        }
        foreach (var turn in Turns)
        {
            stop.ThrowIfCancellationRequested();
            var started = Stopwatch.GetTimestamp();
            try
            {
                await (turn.Kind switch
                {
                    TurnKind.Stream => StreamAsync(turn, started, stop),
                    TurnKind.CompletionsStream => CompletionsStreamAsync(turn, started, stop),
                    TurnKind.Completions => CompletionsAsync(turn, stop),
                    _ => MessagesAsync(turn, stop),
                });
            }
            catch (OperationCanceledException) when (turn.Aborted)
            {
                // the client's own abort
            }
            catch (Exception e) when (e is HttpRequestException or IOException or JsonException or KeyNotFoundException or InvalidOperationException
                                          or TaskCanceledException && !stop.IsCancellationRequested)
            {
                turn.Error ??= $"{e.GetType().Name}: {e.Message}";
            }
            turn.LatencyMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }
    }

    private HttpRequestMessage Post(string path, object body, string accept = "application/json")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(service, path)) { Content = JsonContent.Create(body, options: Snake) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept));
        return request;
    }

    private async Task<string?> CreateSessionAsync(CancellationToken ct)
    {
        using var request = Post("/v1/chat/sessions", new { model = LoadOptions.Model, title = userId });
        using var response = await http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode) return $"HTTP {(int)response.StatusCode}: {Cut(text)}";
        using var doc = JsonDocument.Parse(text);
        _sessionId = doc.RootElement.GetProperty("id").GetGuid();
        return null;
    }

    /// <summary>Sends the request and reads its SSE events (event name, data) until the end or the planned abort.</summary>
    private async Task ReadEventsAsync(Turn turn, HttpRequestMessage request, long started, Func<string, JsonElement?, bool> onEvent, CancellationToken stop)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(stop);
        cts.CancelAfter(o.TurnTimeout);
        turn.Sent = true;
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        if (!response.IsSuccessStatusCode)
        {
            turn.Error = $"HTTP {(int)response.StatusCode}: {Cut(await response.Content.ReadAsStringAsync(cts.Token))}";
            return;
        }
        await using var stream = await response.Content.ReadAsStreamAsync(cts.Token);
        using var reader = new StreamReader(stream);
        string? name = null, data = null;
        while (await reader.ReadLineAsync(cts.Token) is { } line)
        {
            if (line.StartsWith("event:", StringComparison.Ordinal)) name = line[6..].Trim();
            else if (line.StartsWith("data:", StringComparison.Ordinal)) data = line[5..].TrimStart();
            else if (line.Length == 0 && data is not null)
            {
                JsonElement? json = data == "[DONE]" ? null : JsonDocument.Parse(data).RootElement.Clone();
                var before = turn.TextChunks;
                if (!onEvent(name ?? "message", json)) return;
                if (turn.TextChunks > before && turn.FirstTextMs is null) turn.FirstTextMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (turn.AbortAfterChunks is { } limit && turn.TextChunks >= limit)
                {
                    // Going away mid-reply: the connection is cut (no drain, see the handler), the service must notice.
                    turn.Aborted = true;
                    turn.AbortedAt = Stopwatch.GetTimestamp();
                    cts.Cancel(); // synchronously: an await here could wait for a busy thread pool before the socket closes
                    return;
                }
                name = data = null;
            }
        }
        if (!turn.Completed && turn.Error is null) turn.Error = "the stream ended without its last event";
    }

    private Task StreamAsync(Turn turn, long started, CancellationToken stop) =>
        ReadEventsAsync(turn, Post("/v1/chat/stream", new { query = turn.Content, session_id = _sessionId, model = LoadOptions.Model }, "text/event-stream"), started, (name, data) =>
        {
            var e = data!.Value;
            switch (name)
            {
                case "session":
                    turn.MessageId = e.GetProperty("message_id").GetGuid();
                    break;
                case "text":
                    turn.Received.Append(e.GetProperty("content").GetString());
                    turn.TextChunks++;
                    break;
                case "usage":
                    (turn.PromptTokens, turn.CompletionTokens) = (e.GetProperty("prompt_tokens").GetInt32(), e.GetProperty("completion_tokens").GetInt32());
                    break;
                case "error":
                    turn.Error = "error event: " + Cut(e.GetRawText());
                    break;
                case "done":
                    turn.Completed = e.GetProperty("completed").GetBoolean() && turn.Error is null;
                    return false;
            }
            return true;
        }, stop);

    private Task CompletionsStreamAsync(Turn turn, long started, CancellationToken stop)
    {
        var finished = false;
        var body = new { model = LoadOptions.Model, session_id = _sessionId, stream = true, stream_options = new { include_usage = true }, messages = new[] { new { role = "user", content = turn.Content } } };
        return ReadEventsAsync(turn, Post("/v1/chat/completions", body, "text/event-stream"), started, (_, data) =>
        {
            if (data is not { } e)
            {
                turn.Completed = finished && turn.Error is null;
                return false;
            }
            if (e.TryGetProperty("error", out var error))
            {
                turn.Error = "error chunk: " + Cut(error.GetRawText());
                return true;
            }
            turn.MessageId ??= MessageIdOf(e.GetProperty("id").GetString()!);
            if (e.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
                (turn.PromptTokens, turn.CompletionTokens) = (usage.GetProperty("prompt_tokens").GetInt32(), usage.GetProperty("completion_tokens").GetInt32());
            foreach (var choice in e.GetProperty("choices").EnumerateArray())
            {
                if (choice.GetProperty("delta").TryGetProperty("content", out var c) && c.GetString() is { Length: > 0 } text)
                {
                    turn.Received.Append(text);
                    turn.TextChunks++;
                }
                if (choice.TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String) finished = true;
            }
            return true;
        }, stop);
    }

    private async Task CompletionsAsync(Turn turn, CancellationToken stop)
    {
        using var request = Post("/v1/chat/completions", new { model = LoadOptions.Model, session_id = _sessionId, messages = new[] { new { role = "user", content = turn.Content } } });
        var e = await SendForJsonAsync(turn, request, stop);
        if (e is not { } body) return;
        turn.MessageId = MessageIdOf(body.GetProperty("id").GetString()!);
        turn.Received.Append(body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        var usage = body.GetProperty("usage");
        (turn.PromptTokens, turn.CompletionTokens) = (usage.GetProperty("prompt_tokens").GetInt32(), usage.GetProperty("completion_tokens").GetInt32());
        turn.Completed = true;
    }

    private async Task MessagesAsync(Turn turn, CancellationToken stop)
    {
        var key = $"{userId}-{turn.Index}";
        HttpRequestMessage Request()
        {
            var request = Post($"/v1/chat/sessions/{_sessionId}/messages", new { content = turn.Content, model = LoadOptions.Model });
            request.Headers.Add("Idempotency-Key", key);
            return request;
        }
        using (var first = Request())
        {
            if (await SendForJsonAsync(turn, first, stop) is not { } body) return;
            var reply = body.GetProperty("assistant_message");
            turn.MessageId = reply.GetProperty("id").GetGuid();
            turn.Received.Append(reply.GetProperty("content").GetString());
            var usage = body.GetProperty("usage");
            (turn.PromptTokens, turn.CompletionTokens) = (usage.GetProperty("prompt_tokens").GetInt32(), usage.GetProperty("completion_tokens").GetInt32());
            turn.Completed = reply.GetProperty("status").GetString() == "complete";
        }
        if (!turn.Retry) return;
        using var again = Request();
        if (await SendForJsonAsync(turn, again, stop) is not { } replay) return;
        var replayed = replay.GetProperty("assistant_message");
        turn.RetryMatched = replayed.GetProperty("id").GetGuid() == turn.MessageId && replayed.GetProperty("content").GetString() == turn.Received.ToString();
    }

    private async Task<JsonElement?> SendForJsonAsync(Turn turn, HttpRequestMessage request, CancellationToken stop)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(stop);
        cts.CancelAfter(o.TurnTimeout);
        turn.Sent = true;
        using var response = await http.SendAsync(request, cts.Token);
        var text = await response.Content.ReadAsStringAsync(cts.Token);
        if (!response.IsSuccessStatusCode)
        {
            turn.Error = $"HTTP {(int)response.StatusCode}: {Cut(text)}";
            return null;
        }
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.Clone();
    }

    /// <summary>The OpenAI-format id is <c>chatcmpl-</c> and the stored reply's id.</summary>
    private static Guid MessageIdOf(string completionId) => Guid.ParseExact(completionId["chatcmpl-".Length..], "N");

    private static string Cut(string s) => s.Length <= 300 ? s : s[..300] + "…";
}
