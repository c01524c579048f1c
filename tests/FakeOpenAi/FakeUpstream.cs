using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ChatSlices.Tests.Support;

/// <summary>What the fake model does with the next requests.</summary>
public sealed record FakeScript
{
    public string[] Chunks { get; init; } = ["Hello", " from", " the", " fake", " model."];
    /// <summary>Before each chunk of a stream; before the whole answer when not streaming.</summary>
    public TimeSpan Delay { get; init; } = TimeSpan.Zero;
    public bool SendUsage { get; init; } = true;
    public int PromptTokens { get; init; } = 11;
    public int CompletionTokens { get; init; } = 7;
    public string FinishReason { get; init; } = "stop";

    /// <summary>Cut the connection after this many chunks, once <see cref="Cut"/> is released.</summary>
    public int? FailAfterChunks { get; init; }

    /// <summary>
    /// With <see cref="FailAfterChunks"/>: the fake cuts only once the test completes this, when it has seen the chunks sent
    /// before the cut come out of the service (a reset discards data the service has not read yet: cutting at once may lose them).
    /// </summary>
    public TaskCompletionSource Cut { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>After this many chunks of a stream, send nothing more until the caller goes away.</summary>
    public int? StallAfterChunks { get; init; }

    /// <summary>Hold every answer until this completes (e.g. until several requests have arrived, so that they overlap).</summary>
    public Task HoldUntil { get; init; } = Task.CompletedTask;

    /// <summary>Answer 200 with this body (and <see cref="BodyContentType"/>) instead of a completion: an answer the client does not expect.</summary>
    public string? Body { get; init; }

    public string BodyContentType { get; init; } = "application/json";

    /// <summary>With <see cref="FailAfterChunks"/>: send the first half of the next chunk before cutting the connection.</summary>
    public bool CutMidChunk { get; init; }

    /// <summary>The model the answer names (default: the one asked for), as a provider answering under a versioned name does.</summary>
    public string? Model { get; init; }

    /// <summary>
    /// Tool calls the model makes after its text chunks (finish reason <c>tool_calls</c>), streamed as the real API does: a
    /// call's first piece carries its index, id, type and name with empty arguments, then its arguments follow in
    /// <see cref="ArgumentPieces"/> pieces, one call after the other.
    /// </summary>
    public FakeToolCall[] ToolCalls { get; init; } = [];

    public int ArgumentPieces { get; init; } = 3;

    /// <summary>Answer with this HTTP status and an OpenAI error body.</summary>
    public int? Status { get; init; }

    /// <summary>Accept the request and never answer.</summary>
    public bool Hang { get; init; }

    /// <summary>Answer a stream with one good chunk, then a line that is not JSON.</summary>
    public bool Garbage { get; init; }

    /// <summary>
    /// <paramref name="count"/> numbered chunks <c>"c0 "</c>, <c>"c1 "</c>, … each sent <paramref name="delay"/> after the
    /// previous one (the first too), so a client can check that none was lost or reordered.
    /// </summary>
    public static FakeScript Numbered(int count, TimeSpan delay) => new()
    {
        Chunks = Enumerable.Range(0, count).Select(i => $"c{i} ").ToArray(),
        Delay = delay,
        CompletionTokens = count,
    };
}

/// <summary>A tool call the fake model makes.</summary>
public sealed record FakeToolCall(string Id, string Name, string Arguments);

/// <summary>A model of the fake's <c>GET /v1/models</c> list.</summary>
public sealed record FakeModel(string Id, string OwnedBy, int Created = 1_700_000_000);

/// <param name="Authorization">The <c>Authorization</c> header the request came with, if any.</param>
public sealed record FakeRequest(JsonObject Body, long StartedAt, string? Authorization = null)
{
    /// <summary>The W3C <c>traceparent</c> header the request came with, if any.</summary>
    public string? TraceParent { get; init; }

    /// <summary>The bearer token of <see cref="Authorization"/>, if it is one.</summary>
    public string? Bearer => Authorization is { } value && value.StartsWith("Bearer ", StringComparison.Ordinal) ? value["Bearer ".Length..] : null;

    public readonly TaskCompletionSource<long> Aborted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>When each content chunk of a streamed reply was written (<see cref="FakeUpstream.Now"/> ticks), in order.</summary>
    public ConcurrentQueue<long> ChunksWrittenAt { get; } = new();
}

/// <summary>
/// An OpenAI-compatible server on loopback (Kestrel, so TCP_NODELAY is on) speaking the real wire protocol:
/// <c>/v1/chat/completions</c> (streaming chunks with usage, or one completion), <c>/v1/embeddings</c> and <c>/v1/models</c>.
/// It records every request, when each streamed chunk was written and when the caller cancelled it.
/// </summary>
public sealed class FakeUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    public FakeScript Script { get; set; } = new();

    /// <summary>When set, the script for each chat request chosen by its body (e.g. call a tool, then answer its result).</summary>
    public Func<JsonObject, FakeScript>? ScriptFor { get; set; }
    public ConcurrentQueue<FakeRequest> Requests { get; } = new();

    /// <summary>What <c>GET /v1/models</c> lists.</summary>
    public IReadOnlyList<FakeModel> Models { get; set; } = [new("gpt-fake", "fake-org"), new("text-embedding-fake", "fake-org")];

    /// <summary>Answer <c>GET /v1/models</c> with this HTTP status and an OpenAI error body instead.</summary>
    public int? ModelsStatus { get; set; }

    /// <summary>The <c>Authorization</c> header of each <c>GET /v1/models</c>, in order (empty when none was sent).</summary>
    public ConcurrentQueue<string> ModelListReads { get; } = new();

    /// <summary>Every text sent to <c>/v1/embeddings</c>, in order.</summary>
    public ConcurrentQueue<string> EmbeddedTexts { get; } = new();
    public string BaseUrl { get; }

    private readonly List<(int Count, TaskCompletionSource Reached)> _waiters = [];

    /// <summary>Completes once <paramref name="count"/> chat requests in all have arrived (<see cref="Requests"/>).</summary>
    public Task WhenRequestsAsync(int count)
    {
        lock (_waiters)
        {
            if (Requests.Count >= count) return Task.CompletedTask;
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, reached));
            return reached.Task;
        }
    }

    private void Arrived(FakeRequest request)
    {
        lock (_waiters)
        {
            Requests.Enqueue(request);
            foreach (var waiter in _waiters.Where(w => Requests.Count >= w.Count).ToList())
            {
                waiter.Reached.TrySetResult();
                _waiters.Remove(waiter);
            }
        }
    }

    public static long Now => Stopwatch.GetTimestamp();

    /// <summary>Starts listening on a free loopback port.</summary>
    public FakeUpstream() : this(0)
    {
    }

    /// <summary>Starts listening on loopback <paramref name="port"/> (0: a free one).</summary>
    public FakeUpstream(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        // Kestrel's default, said out loud: without TCP_NODELAY, Nagle would hold each small chunk ~20 ms and every relayed figure would mean nothing.
        builder.WebHost.UseSockets(sockets => sockets.NoDelay = true);
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.MapPost("/v1/chat/completions", ChatAsync);
        _app.MapPost("/v1/embeddings", EmbeddingsAsync);
        _app.MapGet("/v1/models", ModelsAsync);
        _app.StartAsync().GetAwaiter().GetResult();
        BaseUrl = _app.Urls.First() + "/v1";
    }

    private async Task ChatAsync(HttpContext http)
    {
        var body = (await JsonNode.ParseAsync(http.Request.Body))!.AsObject();
        var script = ScriptFor?.Invoke(body) ?? Script;
        var request = new FakeRequest(body, Now, http.Request.Headers.Authorization.ToString() is { Length: > 0 } authorization ? authorization : null)
        {
            TraceParent = http.Request.Headers["traceparent"].FirstOrDefault(),
        };
        http.RequestAborted.Register(() => request.Aborted.TrySetResult(Now));
        Arrived(request);
        await script.HoldUntil.WaitAsync(http.RequestAborted).ContinueWith(_ => { });
        if (http.RequestAborted.IsCancellationRequested) return;

        if (script.Body is { } unexpected)
        {
            http.Response.ContentType = script.BodyContentType;
            await http.Response.WriteAsync(unexpected);
            return;
        }
        if (script.Status is { } status)
        {
            http.Response.StatusCode = status;
            await http.Response.WriteAsJsonAsync(new { error = new { message = $"fake failure {status}", type = "server_error", code = (string?)null } });
            return;
        }
        if (script.Hang)
        {
            await Task.Delay(Timeout.Infinite, http.RequestAborted).ContinueWith(_ => { });
            return;
        }
        if (script.Garbage)
        {
            http.Response.ContentType = "text/event-stream";
            await SendAsync(http, Chunk("fake", new { content = "fine so far" }, null), http.RequestAborted);
            await http.Response.WriteAsync("data: {\"choices\": [{\"delta\": <html>oops</html>\n\n", http.RequestAborted);
            await http.Response.WriteAsync("data: [DONE]\n\n", http.RequestAborted);
            return;
        }

        var model = script.Model ?? body["model"]?.GetValue<string>() ?? "fake";
        var finishReason = script.ToolCalls.Length > 0 ? "tool_calls" : script.FinishReason;
        var toolCalls = script.ToolCalls.Select(c => new { id = c.Id, type = "function", function = new { name = c.Name, arguments = c.Arguments } }).ToArray();
        if (body["stream"]?.GetValue<bool>() != true)
        {
            if (script.Delay > TimeSpan.Zero) await Task.Delay(script.Delay, http.RequestAborted); // the model's time to answer
            await http.Response.WriteAsJsonAsync(new
            {
                id = "chatcmpl-fake", @object = "chat.completion", created = 1, model,
                choices = new[] { new { index = 0, message = new { role = "assistant", content = (string?)string.Concat(script.Chunks), tool_calls = toolCalls.Length > 0 ? toolCalls : null }, finish_reason = finishReason } },
                usage = new { prompt_tokens = script.PromptTokens, completion_tokens = script.CompletionTokens, total_tokens = script.PromptTokens + script.CompletionTokens },
            });
            return;
        }

        http.Response.ContentType = "text/event-stream";
        var ct = http.RequestAborted;
        try
        {
            for (var i = 0; i < script.Chunks.Length; i++)
            {
                if (script.FailAfterChunks == i)
                {
                    if (script.CutMidChunk)
                    {
                        var line = "data: " + JsonSerializer.Serialize(Chunk(model, new { content = script.Chunks[i] }, null));
                        await http.Response.WriteAsync(line[..(line.Length / 2)], ct);
                        await http.Response.Body.FlushAsync(ct);
                    }
                    await script.Cut.Task.WaitAsync(ct); // the test has seen the chunks sent so far come through: none is lost to the reset
                    http.Abort();
                    return;
                }
                if (script.StallAfterChunks == i)
                {
                    await Task.Delay(Timeout.Infinite, ct);
                    return;
                }
                if (script.Delay > TimeSpan.Zero) await Task.Delay(script.Delay, ct);
                request.ChunksWrittenAt.Enqueue(Now);
                await SendAsync(http, Chunk(model, new { content = script.Chunks[i] }, null), ct);
            }
            for (var call = 0; call < script.ToolCalls.Length; call++)
                foreach (var piece in ToolCallPieces(call, script.ToolCalls[call], script.ArgumentPieces))
                    await SendAsync(http, Chunk(model, new { tool_calls = new[] { piece } }, null), ct);
            await SendAsync(http, Chunk(model, new { }, finishReason), ct);
            var includeUsage = body["stream_options"]?["include_usage"]?.GetValue<bool>() == true;
            if (script.SendUsage && includeUsage)
                await SendAsync(http, new
                {
                    id = "chatcmpl-fake", @object = "chat.completion.chunk", created = 1, model, choices = Array.Empty<object>(),
                    usage = new { prompt_tokens = script.PromptTokens, completion_tokens = script.CompletionTokens, total_tokens = script.PromptTokens + script.CompletionTokens },
                }, ct);
            await http.Response.WriteAsync("data: [DONE]\n\n", ct);
            await http.Response.Body.FlushAsync(ct);
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>The pieces of a streamed tool call: id, type and name first (no arguments yet), then the arguments split.</summary>
    private static IEnumerable<object> ToolCallPieces(int index, FakeToolCall call, int pieces)
    {
        yield return new { index, id = call.Id, type = "function", function = new { name = call.Name, arguments = "" } };
        var size = Math.Max(1, (call.Arguments.Length + pieces - 1) / pieces);
        for (var at = 0; at < call.Arguments.Length; at += size)
            yield return new { index, function = new { arguments = call.Arguments.Substring(at, Math.Min(size, call.Arguments.Length - at)) } };
    }

    private static object Chunk(string model, object delta, string? finishReason) => new
    {
        id = "chatcmpl-fake", @object = "chat.completion.chunk", created = 1, model,
        choices = new[] { new { index = 0, delta, finish_reason = finishReason } },
    };

    private static async Task SendAsync(HttpContext http, object chunk, CancellationToken ct)
    {
        await http.Response.WriteAsync("data: " + JsonSerializer.Serialize(chunk) + "\n\n", ct);
        await http.Response.Body.FlushAsync(ct);
    }

    private async Task ModelsAsync(HttpContext http)
    {
        ModelListReads.Enqueue(http.Request.Headers.Authorization.ToString());
        if (ModelsStatus is { } status)
        {
            http.Response.StatusCode = status;
            await http.Response.WriteAsJsonAsync(new { error = new { message = $"fake failure {status}", type = "server_error", code = (string?)null } });
            return;
        }
        await http.Response.WriteAsJsonAsync(new
        {
            @object = "list",
            data = Models.Select(m => new { id = m.Id, @object = "model", created = m.Created, owned_by = m.OwnedBy }),
        });
    }

    /// <summary>Deterministic 8-dimensional vectors from the text's characters.</summary>
    private async Task EmbeddingsAsync(HttpContext http)
    {
        var body = (await JsonNode.ParseAsync(http.Request.Body))!.AsObject();
        var inputs = body["input"] is JsonArray array ? array.Select(n => n!.GetValue<string>()).ToList() : [body["input"]!.GetValue<string>()];
        foreach (var input in inputs) EmbeddedTexts.Enqueue(input);
        var data = inputs.Select((text, index) =>
        {
            var v = new float[8];
            foreach (var c in text) v[c % 8] += 1;
            var norm = MathF.Sqrt(v.Sum(x => x * x));
            return new { @object = "embedding", index, embedding = v.Select(x => norm == 0 ? 0 : x / norm).ToArray() };
        });
        await http.Response.WriteAsJsonAsync(new { @object = "list", data, model = body["model"]?.GetValue<string>(), usage = new { prompt_tokens = 1, total_tokens = 1 } });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
