using System.Text.RegularExpressions;
using ChatSlices.Infrastructure.AI;

namespace ChatSlices.Infrastructure.Documents;

public sealed record ChunkDraft(int Ordinal, int PageFrom, int PageTo, string Content);

/// <summary>
/// Page-aware chunks of at most <c>targetTokens</c> in the embedding model's tokens, cut at sentence ends (preferably
/// paragraph ends), each starting with the last sentences of the previous one (about <c>overlap</c> of a chunk). A chunk
/// that runs over a page break records both pages.
/// </summary>
public static partial class Chunker
{
    private sealed record Sentence(int Page, string Text, bool EndsParagraph, int Tokens);

    /// <summary>
    /// Chunks for <paramref name="model"/>: <c>Uploads:ChunkTokens</c> of its own tokens, or fewer where its window is
    /// smaller (the window also holds its start and end tokens): a model reads no further than its window.
    /// </summary>
    public static List<ChunkDraft> Split(IReadOnlyList<string> pages, ModelSpec model, UploadSettings settings) =>
        Split(pages, Math.Min(settings.ChunkTokens, model.ContextWindow - 2), settings.ChunkOverlap, model.Tokens());

    public static List<ChunkDraft> Split(IReadOnlyList<string> pages, int targetTokens, double overlap, TokenCounter counter)
    {
        var sentences = Sentences(pages, targetTokens, counter).ToList();
        var chunks = new List<ChunkDraft>();
        var current = new List<Sentence>();
        var tokens = 0;
        var overlapTokens = (int)(targetTokens * overlap);

        void Emit()
        {
            chunks.Add(new ChunkDraft(chunks.Count, current.Min(s => s.Page), current.Max(s => s.Page), string.Join(" ", current.Select(s => s.Text))));
            var carried = new List<Sentence>();
            var carriedTokens = 0;
            for (var i = current.Count - 1; i > 0 && carriedTokens + current[i].Tokens <= overlapTokens; i--)
            {
                carried.Insert(0, current[i]);
                carriedTokens += current[i].Tokens;
            }
            current = carried;
            tokens = carriedTokens;
        }

        var fresh = 0; // sentences added since the last emit: a chunk of only carried-over text is never emitted
        foreach (var sentence in sentences)
        {
            if (fresh > 0 && tokens + sentence.Tokens > targetTokens) { Emit(); fresh = 0; }
            // The overlap gives way to a long sentence: a chunk never outgrows the embedding model's window.
            while (fresh == 0 && current.Count > 0 && tokens + sentence.Tokens > targetTokens)
            {
                tokens -= current[0].Tokens;
                current.RemoveAt(0);
            }
            current.Add(sentence);
            tokens += sentence.Tokens;
            fresh++;
            if (sentence.EndsParagraph && tokens >= targetTokens * 0.75) { Emit(); fresh = 0; }
        }
        if (fresh > 0) Emit();
        return chunks;
    }

    private static IEnumerable<Sentence> Sentences(IReadOnlyList<string> pages, int targetTokens, TokenCounter counter)
    {
        for (var p = 0; p < pages.Count; p++)
        {
            foreach (var paragraph in ParagraphBreak().Split(pages[p]))
            {
                var flat = Whitespace().Replace(paragraph, " ").Trim();
                if (flat.Length == 0) continue;
                var parts = SentenceEnd().Split(flat).SelectMany(s => Pieces(s, targetTokens, counter)).ToList();
                // One token more per sentence: joining sentences may cost one where a tokenizer does not split at spaces.
                for (var i = 0; i < parts.Count; i++)
                    yield return new Sentence(p + 1, parts[i], i == parts.Count - 1, counter.Count(parts[i]) + 1);
            }
        }
    }

    /// <summary>
    /// A "sentence" longer than a chunk (a table, a run-on line) is cut by words: a first guess from its tokens per word,
    /// then fewer words until the piece fits (a few counts per piece, not one per word: counting is the slow part).
    /// </summary>
    private static IEnumerable<string> Pieces(string sentence, int targetTokens, TokenCounter counter)
    {
        var tokens = counter.Count(sentence);
        if (tokens < targetTokens) { yield return sentence; yield break; }
        var words = sentence.Split(' ');
        var guess = Math.Max(1, (int)(targetTokens * 0.9 * words.Length / tokens));
        for (var start = 0; start < words.Length;)
        {
            var take = Math.Min(guess, words.Length - start);
            var piece = string.Join(' ', words, start, take);
            while (take > 1 && counter.Count(piece) >= targetTokens)
            {
                take = Math.Max(1, take * 4 / 5);
                piece = string.Join(' ', words, start, take);
            }
            yield return piece;
            start += take;
        }
    }

    [GeneratedRegex(@"\n[ \t]*\n")]
    private static partial Regex ParagraphBreak();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    [GeneratedRegex(@"(?<=[.!?])\s+(?=[\p{Lu}\p{N}""'(\[])")]
    private static partial Regex SentenceEnd();
}
