using System.Text.RegularExpressions;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// Refuses a semantic cache hit whose question means something else although its words are close: a negation on one
/// side only, different numbers, or opposite verbs ("how do I enable X" against "how do I disable X").
/// </summary>
public static partial class CacheGuard
{
    private static readonly HashSet<string> Negations =
    [
        "not", "no", "never", "none", "nothing", "neither", "nor", "without", "cannot", "cant", "dont", "doesnt", "didnt",
        "isnt", "arent", "wasnt", "werent", "wont", "wouldnt", "shouldnt", "couldnt", "hasnt", "havent",
    ];

    private static readonly (string, string)[] Opposites =
    [
        ("enable", "disable"), ("allow", "deny"), ("allow", "block"), ("add", "remove"), ("add", "delete"), ("create", "delete"),
        ("start", "stop"), ("open", "close"), ("lock", "unlock"), ("increase", "decrease"), ("raise", "lower"), ("before", "after"),
        ("include", "exclude"), ("import", "export"), ("upload", "download"), ("min", "max"), ("minimum", "maximum"),
        ("on", "off"), ("install", "uninstall"), ("subscribe", "unsubscribe"), ("encrypt", "decrypt"), ("accept", "reject"),
        ("first", "last"), ("more", "less"), ("best", "worst"), ("true", "false"), ("yes", "no"), ("buy", "sell"),
    ];

    public static bool SameMeaning(string question, string cached)
    {
        var a = Words(question);
        var b = Words(cached);
        if (a.Count(Negations.Contains) % 2 != b.Count(Negations.Contains) % 2) return false;
        if (!Numbers(question).SetEquals(Numbers(cached))) return false;
        foreach (var (x, y) in Opposites)
            if ((Has(a, x) && Has(b, y) && !Has(a, y)) || (Has(a, y) && Has(b, x) && !Has(b, y))) return false;
        return true;
    }

    private static bool Has(List<string> words, string stem) => words.Any(w => w == stem || (w.StartsWith(stem, StringComparison.Ordinal) && w.Length <= stem.Length + 3));

    private static List<string> Words(string text) =>
        Word().Matches(text.ToLowerInvariant().Replace("n't", "nt").Replace("'", "")).Select(m => m.Value).ToList();

    private static HashSet<string> Numbers(string text) => Number().Matches(text).Select(m => m.Value.TrimStart('0')).ToHashSet();

    [GeneratedRegex(@"\p{L}+")]
    private static partial Regex Word();

    [GeneratedRegex(@"\d+(?:[.,]\d+)?")]
    private static partial Regex Number();
}
