using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace ChatSlices.Bench;

/// <summary>
/// Where a request goes: straight to the fake, through one nginx hop to the fake, or through ChatSlices
/// (<c>/v1/chat/stream</c>, its own SSE events; or <c>/v1/chat/completions</c>, the OpenAI wire format); or
/// <c>/v1/chat/completions</c> of a second ChatSlices started with <c>--compare-env</c> (<c>CompletionsB</c>).
/// </summary>
public enum Target { Direct, Nginx, ChatSlices, Completions, CompletionsB }

public static class Targets
{
    public static bool IsService(this Target target) => target is Target.ChatSlices or Target.Completions or Target.CompletionsB;

    public static string Label(this Target target) => target switch
    {
        Target.Direct => "direct (fake)",
        Target.Nginx => "nginx hop",
        Target.ChatSlices => "ChatSlices /v1/chat/stream",
        Target.CompletionsB => "ChatSlices B (--compare-env) /v1/chat/completions",
        _ => "ChatSlices /v1/chat/completions",
    };

    public static string Key(this Target target) => target switch
    {
        Target.Direct => "direct",
        Target.Nginx => "nginx",
        Target.ChatSlices => "chatslices_stream",
        Target.CompletionsB => "chatslices_b_completions",
        _ => "chatslices_completions",
    };
}

/// <summary>One streamed reply as the client saw it. Times are <see cref="Stopwatch"/> ticks of this process.</summary>
public sealed class StreamResult(Target target, string marker)
{
    public Target Target { get; } = target;
    public string Marker { get; } = marker;
    public long StartedAt { get; set; }
    public long FirstTextAt { get; set; }

    /// <summary>When the first event of any kind arrived (ChatSlices: <c>session</c>; the fake: its first chunk).</summary>
    public long FirstEventAt { get; set; }
    public List<long> ArrivedAt { get; } = new(64);
    public List<string> Texts { get; } = new(64);
    public bool Done { get; set; }
    public bool Completed { get; set; }
    public bool Usage { get; set; }
    public string? Error { get; set; }

    public bool Ok => Error is null && Done && Completed && FirstTextAt != 0;
    public double TtftMs => Stopwatch.GetElapsedTime(StartedAt, FirstTextAt).TotalMilliseconds;
}

/// <summary>
/// A streaming client that timestamps every content chunk when the read that delivered it returns: OpenAI
/// <c>chat.completion.chunk</c> SSE for the fake (direct or via nginx), ChatSlices' own SSE events otherwise.
/// </summary>
public sealed class StreamClient(HttpClient http)
{
    public const string Model = "fake-gpt";

    public async Task<StreamResult> RunAsync(Target target, Uri url, string marker, TimeSpan timeout, CancellationToken stop)
    {
        var result = new StreamResult(target, marker);
        byte[] body = target == Target.ChatSlices
            ? JsonSerializer.SerializeToUtf8Bytes(new { query = marker, model = Model })
            : OpenAiBody(marker, stream: true);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(stop);
        cts.CancelAfter(timeout);
        var ct = cts.Token;
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        try
        {
            result.StartedAt = Stopwatch.GetTimestamp();
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            if (!response.IsSuccessStatusCode)
            {
                var text = await response.Content.ReadAsStringAsync(ct);
                result.Error = $"HTTP {(int)response.StatusCode}: {Truncate(text)}";
                return result;
            }
            await using var stream = await response.Content.ReadAsStreamAsync(ct);
            await ReadEventsAsync(stream, result, ct);
            if (!result.Done && result.Error is null) result.Error = "the stream ended without its last event";
        }
        catch (OperationCanceledException) when (!stop.IsCancellationRequested)
        {
            result.Error = $"timed out after {timeout.TotalSeconds:0} s ({result.Texts.Count} chunks)";
        }
        catch (OperationCanceledException)
        {
            result.Error = "stopped";
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            result.Error = $"{e.GetType().Name}: {e.Message}";
        }
        return result;
    }

    private static byte[] OpenAiBody(string marker, bool stream)
    {
        var messages = new[] { new { role = "user", content = marker } };
        return stream
            ? JsonSerializer.SerializeToUtf8Bytes(new { model = Model, stream, stream_options = new { include_usage = true }, messages })
            : JsonSerializer.SerializeToUtf8Bytes(new { model = Model, stream, messages });
    }

    /// <summary>One non-streaming chat completion (the OpenAI format, any target but <see cref="Target.ChatSlices"/>): its latency in ms, or why it failed.</summary>
    public async Task<(double Ms, string? Error)> CompleteAsync(Uri url, string marker, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(OpenAiBody(marker, stream: false)) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var response = await http.SendAsync(request, ct);
            var text = await response.Content.ReadAsStringAsync(ct);
            var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (!response.IsSuccessStatusCode) return (ms, $"HTTP {(int)response.StatusCode}: {Truncate(text)}");
            using var doc = JsonDocument.Parse(text);
            var content = doc.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();
            return string.IsNullOrEmpty(content) ? (ms, "no content") : (ms, null);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException or KeyNotFoundException)
        {
            return (Stopwatch.GetElapsedTime(started).TotalMilliseconds, $"{e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>SSE framing (lines ending in LF, an empty line ends an event), byte by byte as reads return.</summary>
    private static async Task ReadEventsAsync(Stream stream, StreamResult result, CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        var filled = 0;
        string? eventType = null;
        byte[]? data = null;
        while (true)
        {
            if (filled == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
            var read = await stream.ReadAsync(buffer.AsMemory(filled), ct);
            if (read == 0) return;
            var now = Stopwatch.GetTimestamp();
            filled += read;
            var start = 0;
            while (true)
            {
                var newline = Array.IndexOf(buffer, (byte)'\n', start, filled - start);
                if (newline < 0) break;
                var line = buffer.AsSpan(start, newline - start);
                if (line.Length > 0 && line[^1] == '\r') line = line[..^1];
                start = newline + 1;
                if (line.Length == 0)
                {
                    if (data is not null) Dispatch(result, eventType ?? "message", data, now);
                    eventType = null;
                    data = null;
                }
                else if (line[0] == ':')
                {
                    // a comment (": ping" heartbeat)
                }
                else if (line.StartsWith("event:"u8))
                {
                    eventType = Encoding.UTF8.GetString(TrimField(line["event:".Length..]));
                }
                else if (line.StartsWith("data:"u8))
                {
                    var value = TrimField(line["data:".Length..]);
                    data = data is null ? value.ToArray() : [.. data, (byte)'\n', .. value];
                }
            }
            if (start > 0)
            {
                Buffer.BlockCopy(buffer, start, buffer, 0, filled - start);
                filled -= start;
            }
        }
    }

    private static ReadOnlySpan<byte> TrimField(ReadOnlySpan<byte> value) => value.Length > 0 && value[0] == ' ' ? value[1..] : value;

    private static void Dispatch(StreamResult result, string eventType, byte[] data, long now)
    {
        if (result.FirstEventAt == 0) result.FirstEventAt = now;
        if (result.Target == Target.ChatSlices)
        {
            switch (eventType)
            {
                case "text":
                    using (var doc = JsonDocument.Parse(data))
                        AddText(result, doc.RootElement.GetProperty("content").GetString() ?? "", now);
                    break;
                case "usage":
                    result.Usage = true;
                    break;
                case "error":
                    result.Error = "error event: " + Truncate(Encoding.UTF8.GetString(data));
                    break;
                case "done":
                    using (var doc = JsonDocument.Parse(data))
                    {
                        result.Done = true;
                        result.Completed = doc.RootElement.TryGetProperty("completed", out var c) && c.ValueKind == JsonValueKind.True;
                    }
                    break;
            }
            return;
        }

        // The OpenAI wire format: chat.completion.chunk objects, then [DONE].
        if (data.AsSpan().SequenceEqual("[DONE]"u8))
        {
            result.Done = true;
            result.Completed = true;
            return;
        }
        using var chunk = JsonDocument.Parse(data);
        var root = chunk.RootElement;
        if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object) result.Usage = true;
        if (root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0
            && choices[0].TryGetProperty("delta", out var delta) && delta.TryGetProperty("content", out var content)
            && content.ValueKind == JsonValueKind.String && content.GetString() is { Length: > 0 } text)
            AddText(result, text, now);
    }

    private static void AddText(StreamResult result, string text, long now)
    {
        if (result.FirstTextAt == 0) result.FirstTextAt = now;
        result.ArrivedAt.Add(now);
        result.Texts.Add(text);
    }

    private static string Truncate(string s) => s.Length <= 300 ? s : s[..300] + "…";
}
