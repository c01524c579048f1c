using System.Text.Json;
using System.Text.Json.Serialization;

namespace ChatSlices.Infrastructure.Http;

/// <summary>
/// Refuses, while the body is read, strings that PostgreSQL cannot store: a NUL character, or a lone UTF-16
/// surrogate (from an escape such as <c>"\ud800"</c>). The request is then a 400 naming the JSON path, instead of a
/// failure deep in a write.
/// </summary>
public sealed class StorableStringConverter : JsonConverter<string>
{
    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var value = reader.GetString();
        return value is null || StorableJson.IsStorable(value)
            ? value
            : throw new JsonException(StorableJson.Problem);
    }

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
}

/// <summary>The same check for free-form JSON (metadata, variables, filters), which binds as JsonElement.</summary>
public static class StorableJson
{
    public const string Problem = "Text may not contain a NUL character or a lone surrogate.";

    /// <summary>
    /// OpenAI's "a string, or an array of strings" (<c>stop</c>, an embedding's <c>input</c>) as a list: the one string,
    /// or each of the array's (a non-string item as empty, for validation to refuse); null for anything else.
    /// </summary>
    public static IReadOnlyList<string>? OneOrMany(JsonElement? value) => value switch
    {
        { ValueKind: JsonValueKind.String } one => [one.GetString()!],
        { ValueKind: JsonValueKind.Array } many => [.. many.EnumerateArray().Select(t => t.ValueKind == JsonValueKind.String ? t.GetString()! : "")],
        _ => null,
    };

    /// <summary>Whether every string and property name in <paramref name="element"/> can be stored.</summary>
    public static bool IsStorable(JsonElement element)
    {
        try
        {
            return element.ValueKind switch
            {
                JsonValueKind.String => IsStorable(element.GetString()!),
                JsonValueKind.Array => element.EnumerateArray().All(IsStorable),
                JsonValueKind.Object => element.EnumerateObject().All(p => IsStorable(p.Name) && IsStorable(p.Value)),
                _ => true,
            };
        }
        catch (InvalidOperationException)
        {
            return false; // text that is not valid UTF-16 or UTF-8
        }
    }

    public static bool IsStorable(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\0') return false;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            if (char.IsSurrogate(text[i])) return false;
        }
        return true;
    }
}
