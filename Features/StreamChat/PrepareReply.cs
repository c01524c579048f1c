using ChatSlices.Infrastructure.AI;
using Microsoft.SemanticKernel.ChatCompletion;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// What a turn's reply comes from, once known: a semantic cache hit, or the passages retrieved, the prompt built
/// from them and the model call already sent (null when retrieval failed; <see cref="Reply"/> says why).
/// </summary>
/// <param name="Shareable">No passage came from the session's own documents: the answer may go into the assistant's cache.</param>
public sealed record PreparedReply(SemanticCache.Hit? Hit, List<Citation> Citations, ChatHistory Prompt, ModelReply Reply, ModelCall? Call, bool Shareable);

/// <summary>
/// Steps 3 to 6 of a chat turn, run while the turn's start commits: the semantic cache, retrieval, the prompt, and the
/// model call sent. The question is embedded once for the cache and retrieval alike.
/// </summary>
public sealed class PrepareReply(SemanticCache cache, Retriever retriever, RunModel model, ModelProviders providers, ILogger<PrepareReply> logger)
{
    private static readonly ChatFailed RetrievalFailed = new("retrieval_failed", "The documents could not be searched; retry later.")
    {
        HttpStatus = StatusCodes.Status503ServiceUnavailable,
    };

    public QuestionEmbedding Question(TurnPlan plan) => new(providers.Embedder(plan.Context.EmbeddingModel), plan.Prompt.UserText);

    public async Task<PreparedReply> PrepareAsync(TurnPlan plan, QuestionEmbedding question, CancellationToken ct)
    {
        if (await LookupCacheAsync(plan, question, ct) is { } hit)
            return new PreparedReply(hit, [], new ChatHistory(), new ModelReply(), null, Shareable: false);

        var (passages, retrievalFailure) = await RetrieveAsync(plan, question, ct);
        var citations = passages.Select(p => BuildPrompt.Cite(p, plan.Prompt.UserText)).ToList();
        var prompt = BuildPrompt.For(plan.Prompt, passages);
        var call = retrievalFailure is null ? model.Start(plan.Model, prompt, plan.Settings, ct) : null;
        return new PreparedReply(null, citations, prompt, new ModelReply { Failure = retrievalFailure }, call, passages.All(p => !p.Private));
    }

    private async Task<SemanticCache.Hit?> LookupCacheAsync(TurnPlan plan, QuestionEmbedding question, CancellationToken ct)
    {
        if (plan.Context.CacheKey is not { } key) return null;
        try
        {
            return await cache.LookupAsync(key, question, plan.Ids.SessionId, ct);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            logger.LogWarning(e, "Semantic cache lookup failed; answering without it");
            return null;
        }
    }

    private async Task<(IReadOnlyList<Passage> Passages, ChatFailed? Failure)> RetrieveAsync(TurnPlan plan, QuestionEmbedding question, CancellationToken ct)
    {
        // A new session without an assistant has no documents yet.
        if (plan.Context.Retrieval is not { } request || (plan.Ids.NewSession && plan.Owner.AssistantId is null)) return ([], null);
        try
        {
            return (await retriever.RetrieveAsync(request, question, ct), null);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            logger.LogError(e, "Retrieval failed");
            return ([], RetrievalFailed);
        }
    }
}
