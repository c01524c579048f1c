using System.Runtime.CompilerServices;
using System.Text.Json;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.RateLimiting;
using Microsoft.SemanticKernel.ChatCompletion;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// Step 7 of a chat turn, the event stream. The user's turn is committed while the semantic cache, retrieval and the
/// model call run; once it is, <c>session</c> and <c>sources</c>, then the model's <c>text</c> as it arrives, the reply
/// stored (complete, interrupted or error) however the stream ends, <c>usage</c> and <c>done</c>. A turn that cannot be
/// stored cancels the model call and ends with <c>error</c> and <c>done</c>. The quota reservation is settled to what
/// the stored reply counts.
/// </summary>
public sealed class TurnEvents(
    StoreTurn store, SemanticCache cache, Retriever retriever, RunModel model, ModelProviders providers, TokenQuota quota, ILogger<TurnEvents> logger)
{
    private static readonly ChatFailed RetrievalFailed = new("retrieval_failed", "The documents could not be searched; retry later.")
    {
        HttpStatus = StatusCodes.Status503ServiceUnavailable,
    };

    public ChatRun Start(TurnPlan plan) =>
        new(plan.Ids.SessionId, plan.Ids.MessageId, plan.Model.Id, plan.Owner.AssistantId, MeteredAsync(plan));

    private async IAsyncEnumerable<ChatEvent> MeteredAsync(TurnPlan plan, [EnumeratorCancellation] CancellationToken ct = default)
    {
        try
        {
            await foreach (var e in TurnAsync(plan, ct)) yield return e;
        }
        finally
        {
            // Settled with the stored reply when there is one; otherwise (nothing stored) here.
            if (plan.Reservation is { } reservation && !plan.Settled) await quota.SettleAsync(reservation, plan.TokensUsed);
        }
    }

    private async IAsyncEnumerable<ChatEvent> TurnAsync(TurnPlan plan, [EnumeratorCancellation] CancellationToken ct)
    {
        // The user's turn is committed while the cache, retrieval and the model work; nothing is told before it is.
        var userTurn = store.UserTurnAsync(plan);
        var question = new QuestionEmbedding(providers.Embedder(plan.Context.EmbeddingModel), plan.Prompt.UserText);
        if (await LookupCacheAsync(plan, question, ct) is { } hit)
        {
            await foreach (var e in ReplayAsync(plan, hit, userTurn, ct)) yield return e;
            yield break;
        }

        var (passages, retrievalFailure) = await RetrieveAsync(plan, question, ct);
        var citations = passages.Select(p => BuildPrompt.Cite(p, plan.Prompt.UserText)).ToList();
        var prompt = BuildPrompt.For(plan.Prompt, passages);
        var reply = new ModelReply { Failure = retrievalFailure };
        // Disposing the call cancels the request when the turn ends before its reply does (a failed commit, a client gone).
        await using var call = reply.Failure is null ? model.Start(plan.Model, prompt, plan.Settings, ct) : null;
        if (await userTurn is { } notStored)
        {
            yield return notStored;
            yield return new Done(false, plan.Ids.SessionId, plan.Ids.MessageId, null, Cached: false);
            yield break;
        }
        var stored = false;
        try
        {
            yield return Started(plan);
            yield return new SourcesFound(citations);
            if (call is not null)
                await foreach (var text in call.TextAsync(reply)) yield return new TextDelta(text);
            if (!await store.ReplyAsync(plan, Stored(plan, prompt, reply, StatusAfter(reply.Failure), reply.Failure?.Message, citations)))
                reply.Failure ??= StoreTurn.StorageFailed;
            stored = true;
            await foreach (var e in EndAsync(plan, prompt, reply, question, citations)) yield return e;
        }
        finally
        {
            // The client went away (or the writer failed): keep what was said, marked as interrupted.
            if (!stored) await store.ReplyAsync(plan, Stored(plan, prompt, reply, "interrupted", null, citations));
        }
    }

    private static SessionStarted Started(TurnPlan plan) =>
        new(plan.Ids.SessionId, plan.Ids.MessageId, plan.Ids.UserMessageId, plan.Model.Id, plan.Owner.AssistantId);

    /// <summary>After the reply is stored: the failure and an incomplete done, or usage and done (and the answer cached).</summary>
    private async IAsyncEnumerable<ChatEvent> EndAsync(TurnPlan plan, ChatHistory prompt, ModelReply reply, QuestionEmbedding question, List<Citation> citations)
    {
        if (reply.Failure is { } failure)
        {
            yield return failure;
            yield return new Done(false, plan.Ids.SessionId, plan.Ids.MessageId, reply.FinishReason, Cached: false);
            yield break;
        }
        // Only whole answers are worth replaying: not one cut short by max_tokens or a filter, not an empty one.
        if (plan.Context.CacheKey is { } key && reply.FinishReason is null or "stop" && reply.Text.Length > 0)
            await cache.RememberAsync(key, question, plan.Ids.SessionId, reply.Text.ToString(), citations);
        var tokens = reply.Count(prompt);
        yield return new UsageReported(tokens.Prompt, tokens.Completion, tokens.Prompt + tokens.Completion,
            plan.Model.Cost(tokens.Prompt, tokens.Completion), tokens.Estimated);
        yield return new Done(true, plan.Ids.SessionId, plan.Ids.MessageId, reply.FinishReason ?? "stop", Cached: false);
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

    /// <summary>A cache hit told like any reply: sources, the stored answer in pieces, usage of nothing, done with its similarity.</summary>
    private async IAsyncEnumerable<ChatEvent> ReplayAsync(TurnPlan plan, SemanticCache.Hit hit, Task<ChatFailed?> userTurn, [EnumeratorCancellation] CancellationToken ct)
    {
        var ids = plan.Ids;
        if (await userTurn is { } failed)
        {
            yield return failed;
            yield return new Done(false, ids.SessionId, ids.MessageId, null, Cached: true);
            yield break;
        }
        var citations = JsonSerializer.Deserialize<List<Citation>>(hit.Sources, StoreTurn.StoredJson) ?? [];
        yield return Started(plan);
        yield return new SourcesFound(citations);
        var told = new System.Text.StringBuilder();
        bool? stored = null; // null until the whole answer has been told
        try
        {
            foreach (var piece in hit.Answer.Split(' ').Select((word, i) => i == 0 ? word : " " + word))
            {
                ct.ThrowIfCancellationRequested();
                told.Append(piece);
                yield return new TextDelta(piece);
            }
            stored = await store.ReplyAsync(plan, new StoredReply(told.ToString(), "complete", null, "stop", default, 0m, citations));
        }
        finally
        {
            // The client went away mid-answer: keep what was told, marked as interrupted.
            if (stored is null) await store.ReplyAsync(plan, new StoredReply(told.ToString(), "interrupted", null, null, default, 0m, citations));
        }
        if (stored == false)
        {
            yield return StoreTurn.StorageFailed;
            yield return new Done(false, ids.SessionId, ids.MessageId, null, Cached: true);
            yield break;
        }
        yield return new UsageReported(0, 0, 0, 0m, Estimated: false);
        yield return new Done(true, ids.SessionId, ids.MessageId, "stop", Cached: true, hit.Similarity);
    }

    private static string StatusAfter(ChatFailed? failure) =>
        failure is null ? "complete" : failure == RunModel.ShuttingDown ? "interrupted" : "error";

    private static StoredReply Stored(TurnPlan plan, ChatHistory prompt, ModelReply reply, string status, string? error, List<Citation> citations)
    {
        var tokens = reply.Count(prompt);
        return new StoredReply(reply.Text.ToString(), status, error, reply.FinishReason, tokens,
            plan.Model.Cost(tokens.Prompt, tokens.Completion), citations);
    }
}
