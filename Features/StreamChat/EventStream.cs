using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using ChatSlices.Infrastructure.Telemetry;
using Microsoft.AspNetCore.Http.Features;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// One event of a stream: its type (SSE <c>event:</c>), its payload (serialized as JSON) and its id (SSE <c>id:</c>;
/// numbered by the writer when the stream does not number its events itself).
/// </summary>
public readonly record struct StreamEvent(string Type, object? Data, long? Id = null);

/// <summary>
/// Writes a stream of events to the response as it is produced: Server-Sent Events (with <c>id:</c> and
/// <c>: ping</c> heartbeats while the producer is quiet) or NDJSON. Flushes after every event; no buffering,
/// no compression. The producer gets the request's cancellation token, so a client that leaves stops it.
/// Every write waits until the connection takes it (so a slow reader slows the producer down, and nothing piles up
/// in memory); a client that takes nothing for a whole write timeout is disconnected.
/// </summary>
public sealed class EventStream
{
    public const string SseContentType = "text/event-stream";
    public const string NdjsonContentType = "application/x-ndjson";

    private static readonly byte[] Ping = ": ping\n\n"u8.ToArray();

    private readonly HttpResponse _response;
    private readonly JsonSerializerOptions _json;
    private readonly bool _ndjson;
    private readonly TimeSpan _writeTimeout;
    private long _nextId = 1;
    private Utf8JsonWriter? _jsonWriter;
    private readonly SemaphoreSlim _writing = new(1, 1); // the pump's events and the heartbeat's pings, one at a time
    private long _lastWrite = Stopwatch.GetTimestamp();

    private EventStream(HttpContext http, bool ndjson, TimeSpan writeTimeout)
    {
        _response = http.Response;
        _writeTimeout = writeTimeout;
        _json = http.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;
        _ndjson = ndjson;
    }

    public static bool WantsNdjson(HttpRequest request) =>
        request.Headers.Accept.Any(a => a?.Contains(NdjsonContentType, StringComparison.OrdinalIgnoreCase) == true);

    /// <summary>Starts the response (status 200 and the streaming headers) and writes every event of <paramref name="events"/>.</summary>
    public static async Task WriteAsync(HttpContext http, IAsyncEnumerable<StreamEvent> events, bool ndjson, TimeSpan heartbeat, TimeSpan writeTimeout)
    {
        var stream = new EventStream(http, ndjson, writeTimeout);
        stream.Start(ndjson ? NdjsonContentType : SseContentType);
        await stream.PumpAsync(events, heartbeat, http.RequestAborted, stream.WriteEvent);
    }

    /// <summary>
    /// Plain SSE data messages, no event names or ids (the token and OpenAI formats): a string as it is, any other item as
    /// its JSON.
    /// </summary>
    public static async Task WriteDataAsync(HttpContext http, IAsyncEnumerable<object> messages, TimeSpan heartbeat, TimeSpan writeTimeout)
    {
        var stream = new EventStream(http, ndjson: false, writeTimeout);
        stream.Start(SseContentType);
        await stream.PumpAsync(messages, heartbeat, http.RequestAborted, stream.WriteData);
    }

    private void Start(string contentType)
    {
        _response.StatusCode = StatusCodes.Status200OK;
        _response.ContentType = contentType + "; charset=utf-8";
        _response.Headers.CacheControl = "no-cache, no-transform";
        _response.Headers["X-Accel-Buffering"] = "no";
        _response.HttpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
    }

    /// <summary>
    /// Writes each item as it comes. After an item, the next is asked for at once: when it is already there (the model
    /// sent several chunks together) it goes into the same flush; the flush happens before waiting for one that is not.
    /// </summary>
    private async Task PumpAsync<T>(IAsyncEnumerable<T> items, TimeSpan heartbeat, CancellationToken ct, Action<T> write)
    {
        var metrics = _response.HttpContext.RequestServices.GetRequiredService<ChatMetrics>();
        metrics.StreamOpened();
        try
        {
            await _response.StartAsync(ct);
            using var stopBeating = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var beating = _ndjson ? Task.CompletedTask : BeatAsync(heartbeat, stopBeating.Token, ct);
            try
            {
                await using var item = items.GetAsyncEnumerator(ct);
                var more = await item.MoveNextAsync();
                while (more)
                    more = await await WriteReadyAsync(item, write, ct);
            }
            finally
            {
                await stopBeating.CancelAsync();
                await beating;
            }
        }
        finally
        {
            metrics.StreamClosed(disconnected: ct.IsCancellationRequested); // the client left, or took nothing for a write timeout
        }
    }

    /// <summary>
    /// Writes the current item and every next one that is already there (up to <see cref="MaxUnflushedBytes"/>), then
    /// flushes once. Returns the move to the next item (still pending, or its result).
    /// </summary>
    private async ValueTask<ValueTask<bool>> WriteReadyAsync<T>(IAsyncEnumerator<T> item, Action<T> write, CancellationToken ct)
    {
        await _writing.WaitAsync(ct);
        try
        {
            ValueTask<bool> next;
            while (true)
            {
                write(item.Current);
                next = item.MoveNextAsync();
                if (!next.IsCompletedSuccessfully) break;
                var more = next.Result; // read once: what is returned from here is a plain value
                next = new ValueTask<bool>(more);
                if (!more || Unflushed() >= MaxUnflushedBytes) break;
            }
            try
            {
                await FlushAsync(ct);
            }
            catch when (!next.IsCompleted)
            {
                await Drain(next); // the enumerator cannot be disposed while a move is pending
                throw;
            }
            Volatile.Write(ref _lastWrite, Stopwatch.GetTimestamp());
            return next;
        }
        finally
        {
            _writing.Release();
        }
    }

    /// <summary>A batch goes out at this size at the latest: a flush is where a slow reader holds the producer back.</summary>
    private const int MaxUnflushedBytes = 16 * 1024;

    private long Unflushed() => _response.BodyWriter.CanGetUnflushedBytes ? _response.BodyWriter.UnflushedBytes : MaxUnflushedBytes;

    private static async Task Drain(ValueTask<bool> pending)
    {
        try
        {
            await pending;
        }
        catch (Exception)
        {
            // The stream is failing already; this item is not written.
        }
    }

    /// <summary>
    /// One timer per stream (not one wait per event): a <c>: ping</c> when nothing was written for a heartbeat, checked
    /// every half heartbeat, so a quiet stream shows a ping between 1 and 1.5 heartbeats after its last write.
    /// A ping's flush is cancelled only by the client leaving, never by the stream ending: Kestrel aborts the
    /// connection on a cancelled flush, which would lose the unread tail of the stream.
    /// </summary>
    private async Task BeatAsync(TimeSpan heartbeat, CancellationToken stop, CancellationToken aborted)
    {
        using var timer = new PeriodicTimer(heartbeat / 2);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                if (IsRecent(heartbeat) || !await _writing.WaitAsync(0, stop)) continue;
                try
                {
                    if (IsRecent(heartbeat)) continue; // an event was written while the lock was being taken
                    await WriteAndFlushAsync(Ping, aborted);
                    Volatile.Write(ref _lastWrite, Stopwatch.GetTimestamp());
                }
                finally
                {
                    _writing.Release();
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // The stream ended, or the client left (the pump sees that too).
        }
    }

    private bool IsRecent(TimeSpan heartbeat) => Stopwatch.GetElapsedTime(Volatile.Read(ref _lastWrite)) < heartbeat;

    /// <summary>The event straight into the response's buffer (no intermediate strings).</summary>
    private void WriteEvent(StreamEvent item)
    {
        var output = _response.BodyWriter;
        if (_ndjson)
        {
            output.Write("{\"event\":"u8);
            WriteJson(item.Type);
            output.Write(",\"data\":"u8);
            WriteJson(item.Data);
            output.Write("}\n"u8);
        }
        else
        {
            output.Write("id: "u8);
            Encoding.UTF8.GetBytes((item.Id ?? _nextId++).ToString(CultureInfo.InvariantCulture), output);
            output.Write("\nevent: "u8);
            Encoding.UTF8.GetBytes(item.Type, output);
            output.Write("\ndata: "u8);
            WriteJson(item.Data);
            output.Write("\n\n"u8);
        }
    }

    private void WriteJson(object? value)
    {
        if (_jsonWriter is null) _jsonWriter = new Utf8JsonWriter(_response.BodyWriter, new JsonWriterOptions { Encoder = _json.Encoder, SkipValidation = true });
        else _jsonWriter.Reset(_response.BodyWriter);
        if (value is not null && StreamJson.Default.GetTypeInfo(value.GetType()) is { } generated) JsonSerializer.Serialize(_jsonWriter, value, generated);
        else JsonSerializer.Serialize(_jsonWriter, value, _json);
        _jsonWriter.Flush();
    }

    /// <summary>A data message: text as it is (several <c>data:</c> lines when it has line breaks, as the SSE spec asks), anything else as JSON.</summary>
    private void WriteData(object value)
    {
        if (value is string text)
        {
            WriteDataMessage(text);
            return;
        }
        var output = _response.BodyWriter;
        output.Write("data: "u8);
        WriteJson(value);
        output.Write("\n\n"u8);
    }

    private void WriteDataMessage(string value)
    {
        var output = _response.BodyWriter;
        foreach (var line in value.ReplaceLineEndings("\n").Split('\n'))
        {
            output.Write("data: "u8);
            Encoding.UTF8.GetBytes(line, output);
            output.Write("\n"u8);
        }
        output.Write("\n"u8);
    }

    private ValueTask WriteAndFlushAsync(ReadOnlySpan<byte> bytes, CancellationToken ct)
    {
        _response.BodyWriter.Write(bytes);
        return FlushAsync(ct);
    }

    /// <summary>
    /// Sends what was written. Usually the connection takes it at once; when it does not (the client reads slowly), a
    /// timer cancels the flush after the write timeout and the connection is dropped, as if the client had left.
    /// </summary>
    private ValueTask FlushAsync(CancellationToken ct)
    {
        var flush = _response.BodyWriter.FlushAsync(ct);
        return flush.IsCompletedSuccessfully && !flush.Result.IsCanceled ? ValueTask.CompletedTask : AwaitSlowFlushAsync(flush, ct);
    }

    private async ValueTask AwaitSlowFlushAsync(ValueTask<FlushResult> flush, CancellationToken ct)
    {
        var output = _response.BodyWriter;
        var gate = new Lock();
        bool flushed = false, timedOut = false;
        FlushResult result;
        // Cancelling when no flush is pending would cancel the next one: the timer acts only while this one is.
        await using (new Timer(_ => { lock (gate) if (!flushed) { timedOut = true; output.CancelPendingFlush(); } }, null, _writeTimeout, Timeout.InfiniteTimeSpan))
        {
            result = await flush;
            lock (gate) flushed = true;
        }
        if (!result.IsCanceled && !timedOut) return;
        ct.ThrowIfCancellationRequested();
        _response.HttpContext.Abort();
        throw new OperationCanceledException("The client took nothing for the whole write timeout.");
    }
}
