namespace ChatSlices.Infrastructure;

public static class Text
{
    /// <summary>Runs of whitespace (line breaks included) as single spaces, with none at either end.</summary>
    public static string CollapseWhitespace(this string text) =>
        string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
}
