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

public sealed record PastTurn(string Role, string Content);

/// <summary>
/// The parts of the prompt before context is added; <paramref name="Budget"/> is what the model's window leaves for it,
/// in the tokens of the model's tokenizer (<paramref name="Tokens"/>).
/// </summary>
public sealed record TurnPrompt(string? SystemPrompt, IReadOnlyList<PastTurn> History, string UserText, Guid? PromptId, int Budget, TokenCounter Tokens)
{
    public string Title
    {
        get
        {
            var flat = UserText.CollapseWhitespace();
            if (flat.Length <= 60) return flat;
            var cut = flat.LastIndexOf(' ', 60);
            return flat[..(cut > 20 ? cut : 60)] + "…";
        }
    }
}

/// <summary>Where the turn's context comes from: retrieval (null for <c>context_mode: none</c>) and the semantic cache (null when not cacheable).</summary>
public sealed record TurnContext(RetrievalRequest? Retrieval, SemanticCache.Key? CacheKey, ModelSpec EmbeddingModel);
