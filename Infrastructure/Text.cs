namespace ChatSlices.Infrastructure;

public static class Text
{
    /// <summary>Runs of whitespace (line breaks included) as single spaces, with none at either end.</summary>
    public static string CollapseWhitespace(this string text) =>
        string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));

    /// <summary>At most <paramref name="max"/> characters, cut at a word where one ends past the first third, with "…" when cut.</summary>
    public static string Shorten(this string text, int max)
    {
        if (text.Length <= max) return text;
        var cut = text.LastIndexOf(' ', max);
        return text[..(cut > max / 3 ? cut : max)] + "…";
    }
}
