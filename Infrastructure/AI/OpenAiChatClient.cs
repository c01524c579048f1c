using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using OpenAI.Chat;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using AiFinishReason = Microsoft.Extensions.AI.ChatFinishReason;
using OpenAiChatClientCore = OpenAI.Chat.ChatClient;

namespace ChatSlices.Infrastructure.AI;

/// <summary>
/// <see cref="IChatClient"/> over the official OpenAI SDK, for any OpenAI-compatible endpoint. Streams with usage
/// (the SDK asks for <c>stream_options.include_usage</c>); cancelling the token aborts the HTTP request.
/// </summary>
public sealed class OpenAiChatClient(OpenAiChatClientCore client) : IChatClient
{
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AiChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<AiChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var request = new ChatCompletionOptions
        {
            Temperature = options?.Temperature,
            MaxOutputTokenCount = options?.MaxOutputTokens,
        };
        await foreach (var chunk in client.CompleteChatStreamingAsync(messages.Select(ToOpenAi), request, cancellationToken))
        {
            var update = new ChatResponseUpdate { Role = ChatRole.Assistant, ModelId = chunk.Model, ResponseId = chunk.CompletionId };
            foreach (var part in chunk.ContentUpdate)
                if (!string.IsNullOrEmpty(part.Text)) update.Contents.Add(new TextContent(part.Text));
            if (chunk.FinishReason is { } finish) update.FinishReason = FromOpenAi(finish);
            if (chunk.Usage is { } usage)
                update.Contents.Add(new UsageContent(new UsageDetails
                {
                    InputTokenCount = usage.InputTokenCount,
                    OutputTokenCount = usage.OutputTokenCount,
                    TotalTokenCount = usage.TotalTokenCount,
                }));
            yield return update;
        }
    }

    private static OpenAI.Chat.ChatMessage ToOpenAi(AiChatMessage message) => message.Role.Value switch
    {
        "system" => new SystemChatMessage(message.Text),
        "assistant" => new AssistantChatMessage(message.Text),
        _ => new UserChatMessage(message.Text),
    };

    private static AiFinishReason FromOpenAi(OpenAI.Chat.ChatFinishReason reason) => reason switch
    {
        OpenAI.Chat.ChatFinishReason.Length => AiFinishReason.Length,
        OpenAI.Chat.ChatFinishReason.ContentFilter => AiFinishReason.ContentFilter,
        OpenAI.Chat.ChatFinishReason.ToolCalls or OpenAI.Chat.ChatFinishReason.FunctionCall => AiFinishReason.ToolCalls,
        _ => AiFinishReason.Stop,
    };

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose() { }
}
