using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.AI;

namespace ChatSlices.Infrastructure.AI;

/// <summary>
/// The offline model: no network, no weights. It composes a reply from the conversation and any context passages
/// in the system prompt, says plainly that it is the offline model, and streams it word by word. Deterministic.
/// It reports no usage, so the pipeline's estimate (flagged <c>estimated</c>) is what gets recorded.
/// </summary>
public sealed class LocalChatClient : IChatClient
{
    public const string Disclaimer = "[offline local model] ";

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var words = Compose(messages.ToList()).Split(' ');
        var budget = options?.MaxOutputTokens ?? int.MaxValue;
        var finish = ChatFinishReason.Stop;
        for (var i = 0; i < words.Length; i++)
        {
            if (i >= budget) { finish = ChatFinishReason.Length; break; }
            cancellationToken.ThrowIfCancellationRequested();
            yield return new ChatResponseUpdate(ChatRole.Assistant, i == 0 ? words[i] : " " + words[i]) { ModelId = "local" };
            if (i % 16 == 15) await Task.Yield(); // let other streams and the writer run
        }
        yield return new ChatResponseUpdate { Role = ChatRole.Assistant, FinishReason = finish, ModelId = "local" };
    }

    private static string Compose(IReadOnlyList<ChatMessage> messages)
    {
        var question = messages.LastOrDefault(m => m.Role == ChatRole.User)?.Text.Trim() ?? "";
        var earlierTurns = messages.Count(m => m.Role == ChatRole.User) - 1;
        var passages = ContextPassages(messages.Where(m => m.Role == ChatRole.System).Select(m => m.Text));

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

    /// <summary>Numbered passages (<c>[1] ...</c>) that the pipeline puts into the system prompt.</summary>
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

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose() { }
}
