using System.Text.Json;
using System.Text.Json.Serialization;
using ChatSlices.Infrastructure.Http;
using ChatSlices.Infrastructure.Mediation;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// A turn as OpenAI's format sends it: <c>content</c> a string, or an array of parts (<c>text</c>; <c>image_url</c> for
/// models whose catalog entry says <c>Vision</c>); an <c>assistant</c> turn may carry the <c>tool_calls</c> it made, a
/// <c>tool</c> turn answers one of them by its <c>tool_call_id</c>.
/// </summary>
public sealed record ChatTurn(string? Role, JsonElement? Content, JsonElement? ToolCalls = null, string? ToolCallId = null)
{
    public static readonly string[] Roles = ["user", "assistant", "system", "developer", "tool"];
    private static readonly string[] ImageDetails = ["auto", "low", "high"];

    /// <summary>OpenAI's newer name for the system role, taken as system.</summary>
    [JsonIgnore]
    public bool IsSystem => Role is "system" or "developer";

    /// <summary>The turn's text: the string, or its text parts one after the other (a line break between them).</summary>
    [JsonIgnore]
    public string? Text => Content switch
    {
        { ValueKind: JsonValueKind.String } text => text.GetString(),
        { ValueKind: JsonValueKind.Array } parts => string.Join('\n', parts.EnumerateArray()
            .Where(p => PartType(p) == "text" && p.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
            .Select(p => p.GetProperty("text").GetString())),
        _ => null,
    };

    /// <summary>The content parts when they hold an image (then they go to the model as parts), else null.</summary>
    [JsonIgnore]
    public JsonElement? ImageParts => Content is { ValueKind: JsonValueKind.Array } parts && parts.EnumerateArray().Any(p => PartType(p) == "image_url")
        ? parts : null;

    /// <summary>The turn's <c>tool_calls</c>, when it made any.</summary>
    [JsonIgnore]
    public JsonElement? Calls => ToolCalls is { ValueKind: JsonValueKind.Array } calls && calls.GetArrayLength() > 0 ? calls : null;

    /// <summary>The ids of the calls this (assistant) turn made.</summary>
    public IEnumerable<string> CallIds() => Calls is { } calls
        ? calls.EnumerateArray().Select(c => c.ValueKind == JsonValueKind.Object && c.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString()! : "")
        : [];

    /// <summary>Checks the turn at <paramref name="at"/> (e.g. <c>messages[2]</c>): role, content, tool calls and tool call id.</summary>
    public void Validate(string at, int maxChars, ValidationErrors errors)
    {
        errors.Require(Role is { } role && Roles.Contains(role), at + ".role", "Must be user, assistant, system, developer or tool.");
        errors.Require(ToolCalls is null || ToolCalls.Value.ValueKind == JsonValueKind.Null || Role == "assistant", at + ".tool_calls",
            "Only an assistant message carries tool_calls.");
        errors.Require(ToolCallId is null || Role == "tool", at + ".tool_call_id", "Only a tool message carries tool_call_id.");
        if (Role == "assistant" && ToolCalls is { ValueKind: not JsonValueKind.Null } calls) ToolCallShapes.ValidateCalls(calls, at + ".tool_calls", errors);
        if (Role == "tool")
        {
            errors.Require(!string.IsNullOrEmpty(ToolCallId), at + ".tool_call_id", "A tool message names the call it answers.");
            errors.Length(ToolCallId, at + ".tool_call_id", 1, 200);
            errors.Require(ToolCallId is null || StorableJson.IsStorable(ToolCallId), at + ".tool_call_id", StorableJson.Problem);
        }

        if (ContentProblem is { } problem)
        {
            errors.Add(at + ".content", problem);
            return;
        }
        if (Role == "tool") errors.Require(Content is { ValueKind: not JsonValueKind.Null }, at + ".content", "A tool message carries the tool's answer (it may be empty).");
        else if (Role != "assistant" || Calls is null) // a turn that only called tools has no text, nor needs a turn with an image
            errors.Require(!string.IsNullOrEmpty(Text) || ImageParts is not null, at + ".content", "Must not be empty.");
        errors.Require(ImageParts is null || Role == "user", at + ".content", "image_url parts are for user messages only.");
        errors.Require(Text is not { } content || content.Length <= maxChars, at + ".content", $"Must be at most {maxChars} characters.");
    }

    /// <summary>Why <c>content</c> cannot be taken, if it cannot.</summary>
    [JsonIgnore]
    public string? ContentProblem => Content switch
    {
        { } content when !StorableJson.IsStorable(content) => StorableJson.Problem,
        null or { ValueKind: JsonValueKind.Null or JsonValueKind.String } => null,
        { ValueKind: JsonValueKind.Array } parts => parts.EnumerateArray().Select(PartProblem).FirstOrDefault(p => p is not null),
        _ => "Must be a string or an array of content parts.",
    };

    private static string? PartType(JsonElement part) =>
        part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String ? type.GetString() : null;

    private static string? PartProblem(JsonElement part) => PartType(part) switch
    {
        "text" => part.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String ? null : "A text part needs its text.",
        "image_url" => ImageProblem(part),
        null => "Each content part must be an object with a type.",
        var other => $"Content parts of type {other} are not supported (text and image_url only).",
    };

    private static string? ImageProblem(JsonElement part)
    {
        if (!part.TryGetProperty("image_url", out var image) || image.ValueKind != JsonValueKind.Object
            || !image.TryGetProperty("url", out var url) || url.ValueKind != JsonValueKind.String)
            return "An image_url part needs image_url.url.";
        var address = url.GetString()!;
        var fits = address.StartsWith("data:image/", StringComparison.Ordinal)
                   || (Uri.TryCreate(address, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https");
        if (!fits) return "image_url.url must be an http(s) URL or a data:image/… URL.";
        if (image.TryGetProperty("detail", out var detail) && !(detail.ValueKind == JsonValueKind.String && ImageDetails.Contains(detail.GetString())))
            return "image_url.detail must be auto, low or high.";
        return null;
    }
}
