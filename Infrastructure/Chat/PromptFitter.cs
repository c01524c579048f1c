using ChatSlices.Infrastructure.AI;
using Microsoft.Extensions.AI;

namespace ChatSlices.Infrastructure.Chat;

/// <summary>Fits system prompt + history + new turn into a token budget by dropping the oldest turns first.</summary>
public static class PromptFitter
{
    public static List<ChatMessage> Fit(string? systemPrompt, IEnumerable<(string Role, string Content)> history, string userTurn, int budget)
    {
        var used = TokenEstimator.CountMessage(systemPrompt) + TokenEstimator.CountMessage(userTurn);
        var kept = new List<ChatMessage>();
        foreach (var (role, content) in history.Reverse())
        {
            used += TokenEstimator.CountMessage(content);
            if (used > budget) break;
            kept.Add(new ChatMessage(new ChatRole(role), content));
        }
        kept.Reverse();

        var prompt = new List<ChatMessage>(kept.Count + 2);
        if (!string.IsNullOrWhiteSpace(systemPrompt)) prompt.Add(new ChatMessage(ChatRole.System, systemPrompt));
        prompt.AddRange(kept);
        prompt.Add(new ChatMessage(ChatRole.User, userTurn));
        return prompt;
    }
}
