using System.Text.Json;
using ChatSlices.Infrastructure;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.RateLimiting;
using Microsoft.SemanticKernel.Connectors.OpenAI;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// A chat turn that passed every check (<see cref="ResolveTurn"/>): where it is stored, who asks, the model and what it
/// will be asked, where its context comes from. Nothing has been written yet.
/// </summary>
public sealed record TurnPlan(TurnIds Ids, TurnOwner Owner, ModelSpec Model, TurnPrompt Prompt, TurnContext Context,
    OpenAIPromptExecutionSettings Settings, TokenQuota.Reservation? Reservation)
{
    /// <summary>OpenAI's <c>user</c>: the end user the client says the turn is for, stored with the user's message.</summary>
    public string? EndUser => Settings.User;

    /// <summary>A first reply here may have the model title its session (<see cref="ChatRequest.TitleByModel"/>).</summary>
    public bool TitleByModel { get; init; }

    /// <summary>Tokens the stored reply counts (prompt + completion), for settling the quota reservation.</summary>
    public long TokensUsed { get; set; }

    /// <summary>The quota reservation was settled in the transaction that stored the reply.</summary>
    public bool Settled { get; set; }
}

/// <summary>
/// Where the turn goes in its session's tree: the user turn under <paramref name="ParentId"/> (null: the first), the
/// reply under the user turn. A regenerated reply has its user turn stored already (<paramref name="UserTurnStored"/>).
/// </summary>
public sealed record TurnIds(Guid SessionId, bool NewSession, Guid UserMessageId, Guid MessageId, Guid? ParentId, bool UserTurnStored = false);

public sealed record TurnOwner(string? UserId, string? ApplicationId, Guid? AssistantId);

/// <summary>
/// A turn of the conversation as the model is shown it. <paramref name="ToolCalls"/>: an assistant turn's calls
/// (<see cref="ToolCall"/>s), or a tool turn's answers (<see cref="ToolAnswer"/>s, one tool message each).
/// <paramref name="Parts"/>: a user turn's content parts when they hold images (the text alone otherwise).
/// </summary>
public sealed record PastTurn(string Role, string Content, JsonElement? ToolCalls = null, JsonElement? Parts = null)
{
    /// <summary>The turn takes part in tool calling: the model's calls, or the tools' answers.</summary>
    public bool IsToolUse => ToolCalls is not null;
}

/// <summary>
/// The parts of the prompt before context is added; <paramref name="Budget"/> is what the model's window leaves for it,
/// in the tokens of the model's tokenizer (<paramref name="Tokens"/>).
/// </summary>
public sealed record TurnPrompt(string? SystemPrompt, IReadOnlyList<PastTurn> History, PastTurn Turn, Guid? PromptId, int Budget, TokenCounter Tokens)
{
    /// <summary>The new turn's text: the question, or the tools' answers.</summary>
    public string UserText => Turn.Content;

    /// <summary>Tools, tool calls or images take part: the text alone does not say what the model was asked.</summary>
    public bool BeyondText => Turn.IsToolUse || Turn.Parts is not null || History.Any(t => t.IsToolUse || t.Parts is not null);

    public const int MaxTitleChars = 60;

    // A turn of tool answers is titled by the question that led to it.
    public string Title =>
        (Turn.Role == "tool" ? History.LastOrDefault(t => t.Role == "user")?.Content ?? UserText : UserText).CollapseWhitespace().Shorten(MaxTitleChars);
}

/// <summary>Where the turn's context comes from: retrieval (null for <c>context_mode: none</c>) and the semantic cache (null when not cacheable).</summary>
public sealed record TurnContext(RetrievalRequest? Retrieval, SemanticCache.Key? CacheKey, ModelSpec EmbeddingModel);
