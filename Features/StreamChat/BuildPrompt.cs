using ChatSlices.Infrastructure;
using System.Text;
using ChatSlices.Infrastructure.AI;
using Microsoft.SemanticKernel.ChatCompletion;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// Step 5 of a chat turn: the system prompt with the numbered context passages, the history and the new turn, fitted
/// into the model's window by dropping the oldest turns first; and the citations the client is shown.
/// </summary>
public static class BuildPrompt
{
    public static ChatHistory For(TurnPrompt turn, IReadOnlyList<Passage> passages) =>
        Fit(WithContext(turn.SystemPrompt, passages), turn.History, turn.UserText, turn.Budget, turn.Tokens);

    public static ChatHistory Fit(string? systemPrompt, IEnumerable<PastTurn> history, string userTurn, int budget, TokenCounter tokens)
    {
        var used = tokens.CountMessage(systemPrompt) + tokens.CountMessage(userTurn);
        var kept = new List<PastTurn>();
        foreach (var turn in history.Reverse())
        {
            used += tokens.CountMessage(turn.Content);
            if (used > budget) break;
            kept.Add(turn);
        }
        kept.Reverse();

        var prompt = new ChatHistory();
        if (!string.IsNullOrWhiteSpace(systemPrompt)) prompt.AddSystemMessage(systemPrompt);
        foreach (var turn in kept) prompt.AddMessage(new AuthorRole(turn.Role), turn.Content);
        prompt.AddUserMessage(userTurn);
        return prompt;
    }

    public static Citation Cite(Passage passage, string question) => new(passage.DocumentId, passage.Title, passage.Page, passage.ChunkId,
        passage.Score, Snippets.Best(passage.Content, question, 240), passage.Source);

    /// <summary>The system prompt followed by the numbered passages the model may cite as [n].</summary>
    private static string? WithContext(string? systemPrompt, IReadOnlyList<Passage> passages)
    {
        if (passages.Count == 0) return systemPrompt;
        var text = new StringBuilder(systemPrompt);
        if (text.Length > 0) text.Append("\n\n");
        text.Append("Answer from the numbered context passages below when they are relevant, and cite them as [n].\n");
        for (var i = 0; i < passages.Count; i++)
            text.Append('[').Append(i + 1).Append("] (").Append(passages[i].Title).Append(", page ").Append(passages[i].Page).Append(") ")
                .Append(passages[i].Content.CollapseWhitespace()).Append('\n');
        return text.ToString();
    }
}
