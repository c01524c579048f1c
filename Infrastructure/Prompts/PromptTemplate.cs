using System.Text;

namespace ChatSlices.Infrastructure.Prompts;

/// <summary>
/// The placeholder syntax of prompt content: <c>{name}</c> is a variable (a name of letters, digits and underscores),
/// <c>{{</c> and <c>}}</c> are a literal <c>{</c> and <c>}</c>. Any other brace is an error that names its position,
/// the 0-based index of the offending character in the content. Used when a prompt is saved, previewed, and (for the
/// chat pipeline) when a stored prompt becomes a user turn.
/// </summary>
public static class PromptTemplate
{
    /// <summary>The variables of <c>content</c> in order of first appearance (each once), or the first syntax error.</summary>
    public sealed record Parsed(IReadOnlyList<string> Variables, string? Error)
    {
        public bool IsValid => Error is null;
    }

    /// <summary>The filled text: given variables substituted, missing ones left as <c>{name}</c> and listed.</summary>
    public sealed record Rendered(string Text, IReadOnlyList<string> MissingVariables);

    public static Parsed Parse(string content)
    {
        var variables = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var error = Scan(content, onText: null, onVariable: name =>
        {
            if (seen.Add(name)) variables.Add(name);
        });
        return new Parsed(variables, error);
    }

    /// <summary>
    /// Fills <paramref name="content"/> with <paramref name="values"/> (names are case-sensitive; values are inserted as
    /// they are, never parsed again). Content must be valid (see <see cref="Parse"/>); invalid content throws.
    /// </summary>
    public static Rendered Render(string content, IReadOnlyDictionary<string, string>? values)
    {
        var text = new StringBuilder(content.Length);
        var missing = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var error = Scan(content, onText: c => text.Append(c), onVariable: name =>
        {
            if (values is not null && values.TryGetValue(name, out var value) && value is not null)
            {
                text.Append(value);
                return;
            }
            text.Append('{').Append(name).Append('}');
            if (seen.Add(name)) missing.Add(name);
        });
        return error is null ? new Rendered(text.ToString(), missing) : throw new FormatException(error);
    }

    /// <summary>
    /// The length <see cref="Render"/> would produce, computed without building it: a short content that repeats a
    /// placeholder many times could otherwise turn a modest request into a huge prompt. Check it against
    /// <see cref="MaxRenderedLength"/> before rendering values a client sent.
    /// </summary>
    public static long RenderedLength(string content, IReadOnlyDictionary<string, string>? values)
    {
        long length = 0;
        var error = Scan(content, onText: _ => length++, onVariable: name =>
            length += values is not null && values.TryGetValue(name, out var value) && value is not null ? value.Length : name.Length + 2);
        return error is null ? length : throw new FormatException(error);
    }

    /// <summary>The longest filled prompt the service builds (five times the longest content).</summary>
    public const int MaxRenderedLength = 100_000;

    public static bool IsNameCharacter(char c) => char.IsLetterOrDigit(c) || c == '_';

    /// <summary>One pass over the content: literal characters to <paramref name="onText"/>, names to <paramref name="onVariable"/>.</summary>
    private static string? Scan(string content, Action<char>? onText, Action<string> onVariable)
    {
        for (var i = 0; i < content.Length; i++)
        {
            var c = content[i];
            if (c == '}')
            {
                if (i + 1 < content.Length && content[i + 1] == '}') { onText?.Invoke('}'); i++; continue; }
                return $"Unmatched '}}' at position {i}; write '}}}}' for a literal '}}'.";
            }
            if (c != '{')
            {
                onText?.Invoke(c);
                continue;
            }
            if (i + 1 < content.Length && content[i + 1] == '{') { onText?.Invoke('{'); i++; continue; }

            var close = content.IndexOf('}', i + 1);
            var nextOpen = content.IndexOf('{', i + 1);
            if (close < 0 || (nextOpen >= 0 && nextOpen < close))
                return $"Unclosed '{{' at position {i}; write '{{{{' for a literal '{{'.";
            var name = content[(i + 1)..close];
            if (name.Length == 0 || !name.All(IsNameCharacter))
                return $"Invalid placeholder '{{{Shorten(name)}}}' at position {i}: a variable name has only letters, digits and underscores; write '{{{{' for a literal '{{'.";
            onVariable(name);
            i = close;
        }
        return null;
    }

    private static string Shorten(string name) => name.Length <= 40 ? name : name[..40] + "…";
}
