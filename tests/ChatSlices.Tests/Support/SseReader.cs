using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace ChatSlices.Tests.Support;

/// <summary>One Server-Sent Event as the client saw it, with the moment it arrived.</summary>
public sealed record SseEvent(string? Id, string Event, string Data, long ArrivedAt)
{
    public JsonElement Json => JsonDocument.Parse(Data).RootElement;
}

/// <summary>
/// A minimal SSE client (per the WHATWG parsing rules the service relies on), reading as bytes arrive. A stream that does
/// not end within <paramref name="timeout"/> (<see cref="DefaultTimeout"/>) fails the read with a <see cref="TimeoutException"/>
/// instead of hanging the run.
/// </summary>
public sealed class SseReader(Stream stream, TimeSpan? timeout = null)
{
    /// <summary>How long a test may read one stream: the hang guard of every streamed read in the suite.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);

    private readonly StreamReader _reader = new(stream, Encoding.UTF8);
    private readonly TimeSpan _timeout = timeout ?? DefaultTimeout;
    private readonly CancellationTokenSource _deadline = new(timeout ?? DefaultTimeout);

    public List<string> Comments { get; } = [];

    /// <summary>A token that fires when a stream read from now on has taken <see cref="DefaultTimeout"/>: for reads other than SSE (NDJSON lines).</summary>
    public static CancellationToken Deadline() => new CancellationTokenSource(DefaultTimeout).Token;

    /// <summary>The next event, or null at the end of the stream.</summary>
    public async Task<SseEvent?> NextAsync(CancellationToken ct = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _deadline.Token);
        try
        {
            return await NextEventAsync(linked.Token);
        }
        catch (OperationCanceledException) when (_deadline.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new TimeoutException($"The stream did not end within {_timeout.TotalSeconds:0} s.");
        }
    }

    private async Task<SseEvent?> NextEventAsync(CancellationToken ct)
    {
        string? id = null, type = null;
        var data = new List<string>();
        while (await _reader.ReadLineAsync(ct) is { } line)
        {
            if (line.Length == 0)
            {
                if (data.Count == 0 && type is null) continue;
                return new SseEvent(id, type ?? "message", string.Join('\n', data), Stopwatch.GetTimestamp());
            }
            if (line.StartsWith(':')) { Comments.Add(line); continue; }
            var colon = line.IndexOf(':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..];
            if (value.StartsWith(' ')) value = value[1..]; // the spec strips exactly one space
            switch (field)
            {
                case "id": id = value; break;
                case "event": type = value; break;
                case "data": data.Add(value); break;
            }
        }
        return null;
    }

    public async Task<List<SseEvent>> ReadAllAsync(CancellationToken ct = default)
    {
        var events = new List<SseEvent>();
        while (await NextAsync(ct) is { } e) events.Add(e);
        return events;
    }
}
