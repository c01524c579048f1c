using System.Text.RegularExpressions;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// Refuses a semantic cache hit whose question means something else although it reads alike (a sentence model scores
/// "how do I enable X" and "how do I disable X" closer than a true paraphrase): a negation on one side only, an antonym
/// made by a prefix ("safe"/"unsafe"), different numbers (digits or number words), a name on one side only (a capitalised
/// word after the first: places, products, days, languages), or opposite verbs.
/// </summary>
public static partial class CacheGuard
{
    private static readonly HashSet<string> Negations =
    [
        "not", "no", "never", "none", "nothing", "neither", "nor", "without", "cannot", "cant", "dont", "doesnt", "didnt",
        "isnt", "arent", "wasnt", "werent", "wont", "wouldnt", "shouldnt", "couldnt", "hasnt", "havent",
    ];

    private static readonly string[] NegatingPrefixes = ["un", "in", "im", "il", "ir", "dis", "non", "de"];

    // "one" is left out: it is more often a pronoun ("a new one") than a count.
    private static readonly Dictionary<string, string> NumberWords = new()
    {
        ["two"] = "2", ["three"] = "3", ["four"] = "4", ["five"] = "5", ["six"] = "6", ["seven"] = "7", ["eight"] = "8", ["nine"] = "9",
        ["ten"] = "10", ["eleven"] = "11", ["twelve"] = "12", ["twenty"] = "20", ["thirty"] = "30", ["fifty"] = "50", ["hundred"] = "100",
        ["second"] = "2nd", ["third"] = "3rd", ["fourth"] = "4th", ["fifth"] = "5th",
    };

    private static readonly (string, string)[] Opposites =
    [
        ("enable", "disable"), ("allow", "deny"), ("allow", "block"), ("add", "remove"), ("add", "delete"), ("create", "delete"),
        ("start", "stop"), ("open", "close"), ("lock", "unlock"), ("increase", "decrease"), ("raise", "lower"), ("before", "after"),
        ("include", "exclude"), ("import", "export"), ("upload", "download"), ("min", "max"), ("minimum", "maximum"),
        ("on", "off"), ("in", "out"), ("install", "uninstall"), ("subscribe", "unsubscribe"), ("encrypt", "decrypt"), ("accept", "reject"),
        ("first", "last"), ("more", "less"), ("best", "worst"), ("true", "false"), ("yes", "no"), ("buy", "sell"),
        ("send", "receive"), ("merge", "split"), ("show", "hide"), ("expand", "collapse"), ("join", "leave"), ("approve", "deny"),
        ("approve", "reject"), ("compress", "extract"), ("attach", "detach"), ("upgrade", "downgrade"), ("up", "down"),
        ("win", "lose"), ("cheap", "expensive"), ("early", "late"), ("earliest", "latest"), ("light", "dark"),
    ];

    public static bool SameMeaning(string question, string cached)
    {
        var a = Words(question);
        var b = Words(cached);
        if (a.Count(Negations.Contains) % 2 != b.Count(Negations.Contains) % 2) return false;
        if (PrefixAntonym(a, b) || PrefixAntonym(b, a)) return false;
        if (!Numbers(question, a).SetEquals(Numbers(cached, b))) return false;
        if (Names(question).Concat(Names(cached)).Any(name => !a.Contains(name) || !b.Contains(name))) return false;
        foreach (var (x, y) in Opposites)
            if ((Has(a, x) && Has(b, y) && !Has(a, y)) || (Has(a, y) && Has(b, x) && !Has(b, y))) return false;
        return true;
    }

    /// <summary>A word of <paramref name="a"/> that <paramref name="b"/> has only with a negating prefix.</summary>
    private static bool PrefixAntonym(List<string> a, List<string> b) =>
        a.Where(w => w.Length >= 3).Any(w => !b.Contains(w) && NegatingPrefixes.Any(p => b.Contains(p + w) && !a.Contains(p + w)));

    /// <summary>A word (two letters or fewer: only itself) or a form of it ("enable", "enabled", "enables").</summary>
    private static bool Has(List<string> words, string stem) => words.Any(w => w == stem
        || (stem.Length > 2 && w.StartsWith(stem, StringComparison.Ordinal) && w.Length <= stem.Length + 3));

    private static List<string> Words(string text) =>
        Word().Matches(text.ToLowerInvariant().Replace("n't", "nt").Replace("'", "")).Select(m => m.Value).ToList();

    private static HashSet<string> Numbers(string text, List<string> words) =>
        Number().Matches(text).Select(m => m.Value.TrimStart('0')).Concat(words.Select(w => NumberWords.GetValueOrDefault(w)).OfType<string>()).ToHashSet();

    /// <summary>Lower-cased words written with a capital anywhere but the start (not "I"): names, as the asker wrote them.</summary>
    private static IEnumerable<string> Names(string text) =>
        Word().Matches(text.Replace("'", "")).Skip(1)
            .Where(m => m.Value != "I" && m.Value.Skip(m.Value.Length > 1 && char.IsLower(m.Value[0]) ? 1 : 0).Any(char.IsUpper))
            .Select(m => m.Value.ToLowerInvariant());

    [GeneratedRegex(@"\p{L}+")]
    private static partial Regex Word();

    [GeneratedRegex(@"\d+(?:[.,]\d+)?")]
    private static partial Regex Number();
}
