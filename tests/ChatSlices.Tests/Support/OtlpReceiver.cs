using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ChatSlices.Tests.Support;

/// <summary>One span as an OTLP exporter sent it: ids in lowercase hex, attributes by key (string, bool, long, double or a list of them).</summary>
public sealed record ReceivedSpan(string TraceId, string SpanId, string ParentSpanId, string Name, IReadOnlyDictionary<string, object?> Attributes);

/// <summary>
/// An OTLP/HTTP receiver on loopback (Kestrel): <c>POST /v1/traces</c> in protobuf, decoded with a minimal reader of the
/// wire format (no OpenTelemetry proto package is served here); metrics and logs are accepted and dropped.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    public ConcurrentQueue<ReceivedSpan> Spans { get; } = new();

    /// <summary>Every body of <c>/v1/traces</c> as it came, to check what an export holds at all.</summary>
    public ConcurrentQueue<byte[]> TraceBodies { get; } = new();

    public string Endpoint { get; }

    public OtlpReceiver()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        // Its own requests under a source of another name: the service under test (same process) would trace them too.
        builder.Services.AddSingleton(new ActivitySource("ChatSlices.Tests.OtlpReceiver"));
        _app = builder.Build();
        _app.MapPost("/v1/traces", async (HttpContext http) =>
        {
            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body);
            var bytes = body.ToArray();
            TraceBodies.Enqueue(bytes);
            foreach (var span in OtlpSpans.Decode(bytes)) Spans.Enqueue(span);
        });
        _app.MapPost("/v1/metrics", () => Results.Ok());
        _app.MapPost("/v1/logs", () => Results.Ok());
        _app.StartAsync().GetAwaiter().GetResult();
        Endpoint = _app.Urls.First();
    }

    /// <summary>The first span that matches, once it has arrived (exports are batched: it may take a moment).</summary>
    public async Task<ReceivedSpan> WaitForAsync(Func<ReceivedSpan, bool> match, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (DateTime.UtcNow < deadline)
        {
            if (Spans.FirstOrDefault(match) is { } span) return span;
            await Task.Delay(50);
        }
        throw new TimeoutException($"No matching span arrived; received: {string.Join(", ", Spans.Select(s => s.Name))}");
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}

/// <summary>ExportTraceServiceRequest → ResourceSpans (1) → ScopeSpans (2) → Span (2), read field by field.</summary>
public static class OtlpSpans
{
    public static IEnumerable<ReceivedSpan> Decode(byte[] request) =>
        Fields(request).Where(f => f.Number == 1).SelectMany(resourceSpans => Fields(resourceSpans.Bytes))
            .Where(f => f.Number == 2).SelectMany(scopeSpans => Fields(scopeSpans.Bytes))
            .Where(f => f.Number == 2).Select(span => Span(span.Bytes)).ToList();

    private static ReceivedSpan Span(byte[] bytes)
    {
        string traceId = "", spanId = "", parent = "", name = "";
        var attributes = new Dictionary<string, object?>();
        foreach (var field in Fields(bytes))
        {
            switch (field.Number)
            {
                case 1: traceId = Convert.ToHexStringLower(field.Bytes); break;
                case 2: spanId = Convert.ToHexStringLower(field.Bytes); break;
                case 4: parent = Convert.ToHexStringLower(field.Bytes); break;
                case 5: name = System.Text.Encoding.UTF8.GetString(field.Bytes); break;
                case 9:
                    var keyValue = Fields(field.Bytes).ToList();
                    var key = System.Text.Encoding.UTF8.GetString(keyValue.First(f => f.Number == 1).Bytes);
                    attributes[key] = keyValue.FirstOrDefault(f => f.Number == 2) is { Bytes: { } value } ? AnyValue(value) : null;
                    break;
            }
        }
        return new ReceivedSpan(traceId, spanId, parent, name, attributes);
    }

    private static object? AnyValue(byte[] bytes)
    {
        foreach (var field in Fields(bytes))
        {
            return field.Number switch
            {
                1 => System.Text.Encoding.UTF8.GetString(field.Bytes),
                2 => field.Varint != 0,
                3 => (long)field.Varint,
                4 => BitConverter.Int64BitsToDouble((long)field.Varint),
                5 => Fields(field.Bytes).Where(f => f.Number == 1).Select(f => AnyValue(f.Bytes)).ToList(),
                _ => null,
            };
        }
        return null;
    }

    /// <summary>A field: its number, and its varint/fixed value or its length-delimited bytes.</summary>
    private sealed record Field(int Number, ulong Varint, byte[] Bytes);

    private static IEnumerable<Field> Fields(byte[] message)
    {
        var at = 0;
        while (at < message.Length)
        {
            var tag = ReadVarint(message, ref at);
            var number = (int)(tag >> 3);
            switch (tag & 7)
            {
                case 0: yield return new Field(number, ReadVarint(message, ref at), []); break;
                case 1: yield return new Field(number, BitConverter.ToUInt64(message, at), []); at += 8; break;
                case 2:
                    var length = (int)ReadVarint(message, ref at);
                    yield return new Field(number, 0, message[at..(at + length)]);
                    at += length;
                    break;
                case 5: yield return new Field(number, BitConverter.ToUInt32(message, at), []); at += 4; break;
                default: throw new InvalidDataException($"Wire type {tag & 7} is not one OTLP uses.");
            }
        }
    }

    private static ulong ReadVarint(byte[] message, ref int at)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = message[at++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
    }
}
