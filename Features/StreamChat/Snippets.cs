using ChatSlices.Infrastructure;
using System.Text.RegularExpressions;

namespace ChatSlices.Features.StreamChat;

/// <summary>The part of a passage worth showing next to a citation: the sentence sharing most words with the question.</summary>
public static partial class Snippets
{
    public static string Best(string content, string question, int maxChars)
    {
        var flat = content.CollapseWhitespace();
        var asked = Words(question).ToHashSet();
        var sentences = SentenceEnd().Split(flat);
        var best = 0;
        for (int i = 0, bestScore = -1; i < sentences.Length; i++)
        {
            var score = Words(sentences[i]).Distinct().Count(asked.Contains);
            if (score > bestScore) (best, bestScore) = (i, score);
        }
        var snippet = string.Join(' ', sentences.Skip(best));
        return snippet.Length <= maxChars ? snippet : snippet[..maxChars].TrimEnd() + "…";
    }

    /// <summary>The lower-cased words (letters and digits only, three or more) of a text.</summary>
    public static IEnumerable<string> Words(string text) =>
        WordPattern().Matches(text.ToLowerInvariant()).Select(m => m.Value).Where(w => w.Length > 2);

    [GeneratedRegex(@"[\p{L}\p{N}]+")]
    private static partial Regex WordPattern();

    [GeneratedRegex(@"(?<=[.!?])\s+")]
    private static partial Regex SentenceEnd();
}
