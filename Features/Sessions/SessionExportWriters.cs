using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace ChatSlices.Features.Sessions;

/// <summary>The two file formats of <see cref="ExportSession"/>, each written as the messages are read.</summary>
public static class SessionExportWriters
{
    public const string JsonContentType = "application/json; charset=utf-8", MarkdownContentType = "text/markdown; charset=utf-8";

    /// <summary>Written bytes are sent once this many are waiting.</summary>
    private const int FlushBytes = 32 * 1024;

    /// <summary><c>{session, exported_at, branch, messages: [...]}</c>, indented, non-ASCII text as it is.</summary>
    public static async Task WriteJsonAsync(Stream body, ExportSession.Export export, string branch, JsonSerializerOptions options, CancellationToken ct)
    {
        // Through a pipe: the serializer's own flush then only hands bytes to the pipe (Kestrel refuses synchronous
        // writes); the pipe sends them, asynchronously, when enough are waiting.
        var pipe = PipeWriter.Create(body, new StreamPipeWriterOptions(leaveOpen: true));
        await using var writer = new Utf8JsonWriter(pipe, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        writer.WriteStartObject();
        writer.WritePropertyName("session");
        JsonSerializer.Serialize(writer, export.Session, options);
        writer.WriteString("exported_at", DateTime.UtcNow);
        writer.WriteString("branch", branch);
        writer.WriteStartArray("messages");
        await foreach (var message in export.Messages.WithCancellation(ct))
        {
            JsonSerializer.Serialize(writer, message, options);
            if (pipe.UnflushedBytes > FlushBytes) await pipe.FlushAsync(ct);
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.Flush();
        await pipe.CompleteAsync();
    }

    /// <summary>
    /// A transcript: the title, a few facts, then each message under its role's heading, a reply's sources as Markdown
    /// footnotes (<c>[^1]: handbook.pdf, page 3</c>; numbered through the whole file, as footnote labels must be unique).
    /// Message text is written as it was stored: it is Markdown already.
    /// </summary>
    public static async Task WriteMarkdownAsync(Stream body, ExportSession.Export export, CancellationToken ct)
    {
        await using var writer = new StreamWriter(body, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: FlushBytes) { NewLine = "\n" };
        var session = export.Session;
        await writer.WriteLineAsync($"# {OneLine(session.Title) ?? "Untitled chat"}\n");
        await writer.WriteLineAsync($"- Session: `{session.Id}`");
        await writer.WriteLineAsync($"- Model: {session.Model}");
        if (session.AssistantId is { } assistant) await writer.WriteLineAsync($"- Assistant: `{assistant}`");
        await writer.WriteLineAsync($"- Created: {Time(session.CreatedAt)}, last updated: {Time(session.UpdatedAt)}");
        await writer.WriteLineAsync($"- Exported: {Time(DateTime.UtcNow)}");

        var footnotes = 0;
        await foreach (var message in export.Messages.WithCancellation(ct))
        {
            await writer.WriteLineAsync($"\n## {Heading(message)}\n");
            await writer.WriteLineAsync(message.Content);
            var cited = Citations(message.Sources);
            if (cited.Count == 0) continue;
            var first = footnotes + 1;
            footnotes += cited.Count;
            await writer.WriteLineAsync("\nSources: " + string.Join(" ", Enumerable.Range(first, cited.Count).Select(n => $"[^{n}]")) + "\n");
            for (var i = 0; i < cited.Count; i++) await writer.WriteLineAsync($"[^{first + i}]: {cited[i]}");
        }
        await writer.FlushAsync(ct);
    }

    /// <summary>
    /// The download's name: the session's title without the characters file systems refuse, else <c>chat-{id}</c>.
    /// ASP.NET Core sends it as <c>filename</c> (ASCII) and <c>filename*</c> (UTF-8).
    /// </summary>
    public static string FileName(SessionView session, string extension)
    {
        var title = new string((session.Title ?? "").Select(c => char.IsControl(c) || "/\\:*?\"<>|".Contains(c) ? ' ' : c).ToArray());
        title = string.Join(' ', title.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Trim('.', ' ');
        if (title.Length > 100) title = title[..100].TrimEnd('.', ' ');
        return $"{(title.Length > 0 ? title : $"chat-{session.Id}")}.{extension}";
    }

    private static string Heading(ExportSession.ExportedMessage message)
    {
        var role = message.Role switch { "user" => "User", "assistant" => "Assistant", _ => "System" };
        var notes = new[] { role == "Assistant" ? message.Model : null, message.Status == "complete" ? null : message.Status }.Where(n => n is not null).ToList();
        return notes.Count == 0 ? role : $"{role} ({string.Join(", ", notes)})";
    }

    /// <summary>The distinct documents and pages a reply cited, in the order it cited them.</summary>
    private static List<string> Citations(JsonElement sources)
    {
        if (sources.ValueKind != JsonValueKind.Array) return [];
        return sources.EnumerateArray()
            .Select(s => (Title: s.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String ? OneLine(t.GetString()) : null,
                          Page: s.TryGetProperty("page", out var p) && p.ValueKind == JsonValueKind.Number && p.TryGetInt32(out var n) ? n : (int?)null))
            .Select(c => (c.Title ?? "document") + (c.Page is { } page ? $", page {page}" : ""))
            .Distinct()
            .ToList();
    }

    private static string? OneLine(string? text) =>
        string.IsNullOrWhiteSpace(text) ? null : string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));

    private static string Time(DateTime at) => at.ToUniversalTime().ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
}
