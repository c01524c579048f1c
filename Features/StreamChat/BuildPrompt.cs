using ChatSlices.Infrastructure;
using System.Text;
using System.Text.Json;
using ChatSlices.Infrastructure.AI;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.Connectors.OpenAI;
using ChatToolCall = OpenAI.Chat.ChatToolCall;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// Step 5 of a chat turn: the system prompt with the numbered context passages, the history and the new turn, fitted
/// into the model's window by dropping the oldest turns first; and the citations the client is shown.
/// </summary>
public static class BuildPrompt
{
    /// <summary>
    /// The metadata key under which SK's OpenAI connector takes an assistant message's tool calls as they are (id, name and
    /// the arguments' exact text); its public alternative, <c>FunctionCallContent</c>, re-serialises the arguments.
    /// </summary>
    private const string ToolCallsMetadata = "ChatResponseMessage.FunctionToolCalls";

    public static ChatHistory For(TurnPrompt turn, IReadOnlyList<Passage> passages) =>
        Fit(WithContext(turn.SystemPrompt, passages), turn.History, turn.Turn, turn.Budget, turn.Tokens);

    public static ChatHistory Fit(string? systemPrompt, IEnumerable<PastTurn> history, PastTurn newTurn, int budget, TokenCounter tokens)
    {
        var used = tokens.CountMessage(systemPrompt) + Count(newTurn, tokens);
        var kept = new List<PastTurn>();
        foreach (var turn in history.Reverse())
        {
            used += Count(turn, tokens);
            if (used > budget) break;
            kept.Add(turn);
        }
        kept.Reverse();
        // Tool answers whose calling message was dropped would be refused by the provider: they go with it.
        var orphans = kept.TakeWhile(t => t.Role == "tool").Count();

        var prompt = new ChatHistory();
        if (!string.IsNullOrWhiteSpace(systemPrompt)) prompt.AddSystemMessage(systemPrompt);
        foreach (var turn in kept.Skip(orphans)) Add(prompt, turn);
        Add(prompt, newTurn);
        return prompt;
    }

    private static int Count(PastTurn turn, TokenCounter tokens) =>
        tokens.CountMessage(turn.Content) + (turn.ToolCalls is { } calls ? tokens.Count(calls.GetRawText()) : 0);

    /// <summary>A turn as the connector sends it: tool calls and tool answers in OpenAI's shape, images as image parts.</summary>
    private static void Add(ChatHistory prompt, PastTurn turn)
    {
        switch (turn)
        {
            case { Role: "assistant", ToolCalls: { } calls }:
                var toolCalls = calls.Deserialize<List<ToolCall>>(StoreTurn.StoredJson)!
                    .Select(c => ChatToolCall.CreateFunctionToolCall(c.Id, c.Function.Name, BinaryData.FromString(c.Function.Arguments))).ToList();
                prompt.Add(new ChatMessageContent(AuthorRole.Assistant, turn.Content) { Metadata = new Dictionary<string, object?> { [ToolCallsMetadata] = toolCalls } });
                break;
            case { Role: "tool", ToolCalls: { } answers }:
                foreach (var answer in answers.Deserialize<List<ToolAnswer>>(StoreTurn.StoredJson)!)
                    prompt.Add(new ChatMessageContent(AuthorRole.Tool, answer.Content)
                    {
                        Metadata = new Dictionary<string, object?> { [OpenAIChatMessageContent.ToolIdProperty] = answer.ToolCallId },
                    });
                break;
            case { Role: "user", Parts: { } parts }:
                prompt.Add(new ChatMessageContent(AuthorRole.User, [.. parts.EnumerateArray().Select(Part)]));
                break;
            default:
                prompt.AddMessage(new AuthorRole(turn.Role), turn.Content);
                break;
        }
    }

    private static KernelContent Part(JsonElement part)
    {
        if (part.GetProperty("type").GetString() == "text") return new TextContent(part.GetProperty("text").GetString());
        var image = part.GetProperty("image_url");
        var url = image.GetProperty("url").GetString()!;
        var content = url.StartsWith("data:", StringComparison.Ordinal) ? new ImageContent(url) : new ImageContent(new Uri(url));
        if (image.TryGetProperty("detail", out var detail)) content.Metadata = new Dictionary<string, object?> { ["ChatImageDetailLevel"] = detail.GetString() };
        return content;
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
