using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.SemanticKernel;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.Connectors.OpenAI;

namespace ChatSlices.Infrastructure.AI;

/// <summary>
/// The offline model, as a Semantic Kernel chat completion service: no network, no weights. It composes a reply from
/// the conversation and any context passages in the system prompt, says plainly that it is the offline model, and
/// streams it word by word (a request that offers tools is told that this model does not call them). Deterministic. It reports no usage, so the turn's estimate (flagged <c>estimated</c>) is recorded.
/// </summary>
public sealed class LocalChatCompletion : IChatCompletionService
{
    public const string Disclaimer = "[offline local model] ";

    public IReadOnlyDictionary<string, object?> Attributes { get; } = new Dictionary<string, object?> { ["ModelId"] = "local" };

    public async Task<IReadOnlyList<ChatMessageContent>> GetChatMessageContentsAsync(ChatHistory chatHistory,
        PromptExecutionSettings? executionSettings = null, Kernel? kernel = null, CancellationToken cancellationToken = default)
    {
        var text = new StringBuilder();
        await foreach (var chunk in GetStreamingChatMessageContentsAsync(chatHistory, executionSettings, kernel, cancellationToken))
            text.Append(chunk.Content);
        return [new ChatMessageContent(AuthorRole.Assistant, text.ToString(), "local")];
    }

    public async IAsyncEnumerable<StreamingChatMessageContent> GetStreamingChatMessageContentsAsync(ChatHistory chatHistory,
        PromptExecutionSettings? executionSettings = null, Kernel? kernel = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var settings = executionSettings as OpenAIPromptExecutionSettings;
        var words = (settings?.ExtraBody?.ContainsKey("tools") == true ? NoTools : Compose(chatHistory)).Split(' ');
        var budget = settings?.MaxTokens ?? int.MaxValue;
        var finish = "Stop";
        for (var i = 0; i < words.Length; i++)
        {
            if (i >= budget) { finish = "Length"; break; }
            cancellationToken.ThrowIfCancellationRequested();
            yield return new StreamingChatMessageContent(AuthorRole.Assistant, i == 0 ? words[i] : " " + words[i], modelId: "local");
            if (i % 16 == 15) await Task.Yield(); // let other streams and the writer run
        }
        yield return new StreamingChatMessageContent(AuthorRole.Assistant, null, modelId: "local",
            metadata: new Dictionary<string, object?> { [ModelReplyMetadata.FinishReason] = finish });
    }

    /// <summary>The answer to a request that offers tools: said plainly, as a reply, so the client's conversation goes on.</summary>
    public const string NoTools = Disclaimer + "This model does not call tools. Configure an openai provider for a model that can.";

    private static string Compose(ChatHistory messages)
    {
        var question = messages.LastOrDefault(m => m.Role == AuthorRole.User)?.Content?.Trim() ?? "";
        var earlierTurns = messages.Count(m => m.Role == AuthorRole.User) - 1;
        var passages = ContextPassages(messages.Where(m => m.Role == AuthorRole.System).Select(m => m.Content ?? ""));

        var reply = new StringBuilder(Disclaimer);
        reply.Append("You asked: \"").Append(Shorten(question, 200)).Append("\".");
        if (passages.Count > 0)
            reply.Append(" From the provided context: ").Append(string.Join(" ", passages.Take(2).Select(p => Shorten(p, 300))));
        else
            reply.Append(" I have no documents to draw on, and I cannot reason like a real language model; configure an openai provider for real answers.");
        if (earlierTurns > 0)
            reply.Append($" This conversation has {earlierTurns} earlier {(earlierTurns == 1 ? "turn" : "turns")}.");
        return reply.ToString();
    }

    /// <summary>Numbered passages (<c>[1] ...</c>) that the chat turn puts into the system prompt.</summary>
    private static List<string> ContextPassages(IEnumerable<string> systemTexts) =>
        systemTexts.SelectMany(t => t.Split('\n'))
            .Select(line => line.Trim())
            .Where(line => line.Length > 4 && line[0] == '[' && char.IsDigit(line[1]) && line.IndexOf("] ", StringComparison.Ordinal) is > 1 and < 6)
            .Select(line => line[(line.IndexOf("] ", StringComparison.Ordinal) + 2)..])
            .ToList();

    private static string Shorten(string text, int max)
    {
        var flat = text.CollapseWhitespace();
        return flat.Length <= max ? flat : flat[..max].TrimEnd() + "…";
    }
}
