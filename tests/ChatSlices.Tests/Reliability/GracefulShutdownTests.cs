using System.Diagnostics;
using System.Text;
using System.Text.Json;
using ChatSlices.Tests.Support;
using Npgsql;
using Xunit.Abstractions;

namespace ChatSlices.Tests.Reliability;

/// <summary>
/// SIGTERM to a real service process while it streams replies in every format: each stream ends at once with
/// <c>shutting_down</c>, each reply is stored as <c>interrupted</c> with exactly the text the client got, and the
/// process exits cleanly.
/// </summary>
public class GracefulShutdownTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int StreamsPerFormat = 2;

    private readonly FakeUpstream _upstream = new();
    private string _database = "";
    private ServiceProcess _service = null!;

    /// <summary>What one client saw: its session, the text it was sent, the last messages and when the stream ended.</summary>
    private sealed record Transcript(string Format, string SessionId, string Text, List<string> Messages, long EndedAt);

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateMigratedAsync();
        var settings = ServiceProcess.WithFakeModel(_database, _upstream.BaseUrl);
        settings["Http:ShutdownTimeoutSeconds"] = "30";
        settings["RateLimits:Tiers:guest:RequestsPerMinute"] = "1000";
        settings["RateLimits:Tiers:guest:ConcurrentStreams"] = "100";
        _service = await ServiceProcess.StartAsync(settings);
    }

    public async Task DisposeAsync()
    {
        if (_service is not null)
        {
            output.WriteLine(_service.Output);
            await _service.DisposeAsync();
        }
        await _upstream.DisposeAsync();
        await TestDatabase.DropAsync(_database);
    }

    [Fact]
    public async Task Sigterm_EndsEveryStreamWithShuttingDown_StoresWhatWasSentAsInterrupted_AndExitsCleanly()
    {
        _upstream.Script = FakeScript.Numbered(600, TimeSpan.FromMilliseconds(50)); // half a minute of reply
        using var client = _service.Client();
        var streams = new List<(Task<Transcript> Done, Task FirstText)>();
        for (var i = 0; i < StreamsPerFormat; i++)
        {
            streams.Add(Open(client, "sse", ReadSseAsync));
            streams.Add(Open(client, "ndjson", ReadNdjsonAsync));
            streams.Add(Open(client, "openai", ReadOpenAiAsync));
        }
        await Task.WhenAll(streams.Select(s => s.FirstText)).WaitAsync(TimeSpan.FromSeconds(30));

        var signalled = Stopwatch.GetTimestamp();
        await _service.TerminateAsync();
        var transcripts = await Task.WhenAll(streams.Select(s => s.Done)).WaitAsync(TimeSpan.FromSeconds(10));
        var exitCode = await _service.WaitForExitAsync(TimeSpan.FromSeconds(20));
        var exitedAfter = Stopwatch.GetElapsedTime(signalled);

        exitCode.Should().Be(0, "the service stops cleanly on SIGTERM");
        var slowest = transcripts.Max(t => Stopwatch.GetElapsedTime(signalled, t.EndedAt));
        output.WriteLine($"{transcripts.Length} streams ended at most {slowest.TotalMilliseconds:0} ms after SIGTERM; the process exited after {exitedAfter.TotalMilliseconds:0} ms");
        slowest.Should().BeLessThan(TimeSpan.FromSeconds(5));
        exitedAfter.Should().BeLessThan(TimeSpan.FromSeconds(10), "well inside the 30 s shutdown timeout");
        _upstream.Requests.Should().HaveCount(transcripts.Length).And.OnlyContain(r => r.Aborted.Task.IsCompleted, "every model call was cancelled");

        foreach (var t in transcripts)
        {
            t.Text.Should().NotBeEmpty();
            t.Messages.TakeLast(2).Should().Equal(t.Format == "openai" ? ["error shutting_down", "[DONE]"] : ["error shutting_down", "done completed=false"], t.Format);
            (await StoredTurnAsync(t.SessionId)).Should().Equal(["user complete: Tell me a long story", $"assistant interrupted: {t.Text}"], t.Format);
        }
        (await CountAsync("SELECT count(*) FROM chat_messages")).Should().Be(2 * transcripts.Length, "no other row was written");
    }

    private static (Task<Transcript> Done, Task FirstText) Open(HttpClient client, string format, Func<Stream, string, TaskCompletionSource, Task<Transcript>> read)
    {
        var firstText = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task<Transcript> RunAsync()
        {
            var request = format == "openai"
                ? ChatApiFactory.Post("/v1/chat/completions", new { model = "fake-gpt", stream = true, messages = new[] { new { role = "user", content = "Tell me a long story" } } })
                : ChatApiFactory.Post("/v1/chat/stream", new { query = "Tell me a long story" }, format == "ndjson" ? "application/x-ndjson" : null);
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            response.EnsureSuccessStatusCode();
            return await read(await response.Content.ReadAsStreamAsync(), format, firstText);
        }
        var done = RunAsync();
        _ = done.ContinueWith(t => firstText.TrySetException(t.Exception!.InnerExceptions), TaskContinuationOptions.OnlyOnFaulted);
        return (done, firstText.Task);
    }

    private static async Task<Transcript> ReadSseAsync(Stream body, string format, TaskCompletionSource firstText)
    {
        var reader = new SseReader(body);
        string? sessionId = null;
        var text = new StringBuilder();
        var messages = new List<string>();
        while (await reader.NextAsync() is { } e) Record(e.Event, e.Json, ref sessionId, text, messages, firstText);
        return new Transcript(format, sessionId!, text.ToString(), messages, Stopwatch.GetTimestamp());
    }

    private static async Task<Transcript> ReadNdjsonAsync(Stream body, string format, TaskCompletionSource firstText)
    {
        using var reader = new StreamReader(body);
        var deadline = SseReader.Deadline();
        string? sessionId = null;
        var text = new StringBuilder();
        var messages = new List<string>();
        while (await reader.ReadLineAsync(deadline) is { } line)
        {
            var e = JsonDocument.Parse(line).RootElement;
            Record(e.Str("event"), e.GetProperty("data"), ref sessionId, text, messages, firstText);
        }
        return new Transcript(format, sessionId!, text.ToString(), messages, Stopwatch.GetTimestamp());
    }

    private static void Record(string type, JsonElement data, ref string? sessionId, StringBuilder text, List<string> messages, TaskCompletionSource firstText)
    {
        switch (type)
        {
            case "session": sessionId = data.Str("session_id"); break;
            case "text": text.Append(data.Str("content")); firstText.TrySetResult(); break;
        }
        messages.Add(type switch
        {
            "error" => $"error {data.Str("code")}",
            "done" => $"done completed={data.GetProperty("completed").GetBoolean().ToString().ToLowerInvariant()}",
            _ => type,
        });
    }

    private static async Task<Transcript> ReadOpenAiAsync(Stream body, string format, TaskCompletionSource firstText)
    {
        var reader = new SseReader(body);
        string? sessionId = null;
        var text = new StringBuilder();
        var messages = new List<string>();
        while (await reader.NextAsync() is { } e)
        {
            if (e.Data == "[DONE]") { messages.Add(e.Data); continue; }
            var chunk = e.Json;
            if (chunk.TryGetProperty("error", out var error)) { messages.Add($"error {error.Str("code")}"); continue; }
            sessionId = chunk.Str("session_id");
            if (chunk.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var content) && content.GetString() is { Length: > 0 } piece)
            {
                text.Append(piece);
                firstText.TrySetResult();
            }
            messages.Add("chunk");
        }
        return new Transcript(format, sessionId!, text.ToString(), messages, Stopwatch.GetTimestamp());
    }

    private async Task<List<string>> StoredTurnAsync(string sessionId)
    {
        await using var conn = new NpgsqlConnection(_database);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT role || ' ' || status || ': ' || content FROM chat_messages WHERE session_id = @id ORDER BY created_at, role DESC", conn);
        cmd.Parameters.AddWithValue("id", Guid.Parse(sessionId));
        var rows = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync()) rows.Add(reader.GetString(0));
        return rows;
    }

    private async Task<long> CountAsync(string sql)
    {
        await using var conn = new NpgsqlConnection(_database);
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }
}
