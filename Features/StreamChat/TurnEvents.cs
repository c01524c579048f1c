using System.Runtime.CompilerServices;
using System.Text.Json;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.RateLimiting;
using ChatSlices.Infrastructure.Telemetry;
using Microsoft.SemanticKernel.ChatCompletion;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// Step 7 of a chat turn, the event stream. The turn's start (quota, session, user turn) commits while the semantic
/// cache, retrieval and the model call run (<see cref="PrepareReply"/>); once it has, <c>session</c>; then
/// <c>sources</c>, the model's <c>text</c> as it arrives, the reply stored (complete, interrupted or error) however the
/// stream ends, <c>usage</c> and <c>done</c>. A turn that cannot start (over quota, not stored) cancels the model call
/// and is only <c>error</c> and <c>done</c>. The quota reservation is settled with the stored reply.
/// </summary>
public sealed class TurnEvents(StoreTurn store, PrepareReply prepare, SemanticCache cache, SessionTitles titles, ChatMetrics metrics)
{
    public ChatRun Start(TurnPlan plan) =>
        new(plan.Ids.SessionId, plan.Ids.MessageId, plan.Model.Id, plan.Owner.AssistantId, MeteredAsync(plan));

    private async IAsyncEnumerable<ChatEvent> MeteredAsync(TurnPlan plan, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var timing = new TurnTiming(metrics);
        try
        {
            await foreach (var e in TurnAsync(plan, ct))
            {
                timing.Saw(e);
                yield return e;
            }
        }
        finally
        {
            timing.End(plan.Model);
            // Settled with the stored reply when there is one; otherwise (the reply could not be stored) here.
            if (!plan.Settled) await store.ReleaseAsync(plan);
        }
    }

    private async IAsyncEnumerable<ChatEvent> TurnAsync(TurnPlan plan, [EnumeratorCancellation] CancellationToken ct)
    {
        // The turn's start commits while the cache, retrieval and the model work; nothing is told before it has.
        var start = store.StartAsync(plan);
        var question = prepare.Question(plan);
        using var preparing = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var preparation = prepare.PrepareAsync(plan, question, preparing.Token);
        if (await start is { } notStarted)
        {
            await AbandonAsync(preparing, preparation);
            yield return notStarted;
            yield return new Done(false, plan.Ids.SessionId, plan.Ids.MessageId, null, Cached: false);
            yield break;
        }

        PreparedReply? ready = null;
        var stored = false;
        try
        {
            yield return Started(plan);
            ready = await preparation;
            if (ready.Hit is { } hit)
            {
                stored = true; // the replay stores its own reply
                await foreach (var e in ReplayAsync(plan, hit, ct)) yield return e;
                yield break;
            }
            yield return new SourcesFound(ready.Citations);
            if (ready.Call is { } call)
                await foreach (var piece in call.PiecesAsync(ready.Reply)) yield return piece;
            var reply = ready.Reply;
            if (!await store.ReplyAsync(plan, Stored(plan, ready, StatusAfter(reply.Failure), reply.Failure?.Message)))
                reply.Failure ??= StoreTurn.StorageFailed;
            stored = true;
            await foreach (var e in EndAsync(plan, ready, question)) yield return e;
        }
        finally
        {
            if (ready is null) await AbandonAsync(preparing, preparation);
            else if (ready.Call is { } call) await call.DisposeAsync();
            // The client went away (or the writer failed): keep what was said, marked as interrupted.
            if (!stored) await store.ReplyAsync(plan, ready is null ? Nothing() : Stored(plan, ready, "interrupted", null));
        }
    }

    /// <summary>Cancels a preparation nobody will read (the model call it sent is cut short) and waits for it to close.</summary>
    private static async Task AbandonAsync(CancellationTokenSource preparing, Task<PreparedReply> preparation)
    {
        await preparing.CancelAsync();
        try
        {
            if ((await preparation).Call is { } call) await call.DisposeAsync();
        }
        catch (Exception)
        {
            // Cancelled on purpose: nobody reads this reply.
        }
    }

    private static SessionStarted Started(TurnPlan plan) =>
        new(plan.Ids.SessionId, plan.Ids.MessageId, plan.Ids.UserMessageId, plan.Model.Id, plan.Owner.AssistantId);

    /// <summary>After the reply is stored: the failure and an incomplete done, or usage and done (and the answer cached).</summary>
    private async IAsyncEnumerable<ChatEvent> EndAsync(TurnPlan plan, PreparedReply ready, QuestionEmbedding question)
    {
        var reply = ready.Reply;
        if (reply.Failure is { } failure)
        {
            yield return failure;
            yield return new Done(false, plan.Ids.SessionId, plan.Ids.MessageId, reply.FinishReason, Cached: false);
            yield break;
        }
        // Only whole answers are worth replaying (not one cut short by max_tokens or a filter, not an empty one), and only
        // those built from nothing private: decided by what this turn used, not by what the session holds by now.
        if (plan.Context.CacheKey is { } key && ready.Shareable && reply.FinishReason is null or "stop" && reply.Text.Length > 0)
            await cache.RememberAsync(key, question, reply.Text.ToString(), ready.Citations);
        titles.AfterReply(plan, reply.Text.ToString());
        var tokens = reply.Count(ready.Prompt, plan.Model.Tokens());
        yield return new UsageReported(tokens.Prompt, tokens.Completion, tokens.Prompt + tokens.Completion,
            plan.Model.Cost(tokens.Prompt, tokens.Completion), tokens.Estimated);
        yield return new Done(true, plan.Ids.SessionId, plan.Ids.MessageId, reply.FinishReason ?? "stop", Cached: false);
    }

    /// <summary>A cache hit told like any reply: sources, the stored answer in pieces, usage of nothing, done with its similarity.</summary>
    private async IAsyncEnumerable<ChatEvent> ReplayAsync(TurnPlan plan, SemanticCache.Hit hit, [EnumeratorCancellation] CancellationToken ct)
    {
        var ids = plan.Ids;
        var citations = JsonSerializer.Deserialize<List<Citation>>(hit.Sources, StoreTurn.StoredJson) ?? [];
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

    private static StoredReply Stored(TurnPlan plan, PreparedReply ready, string status, string? error)
    {
        var tokens = ready.Reply.Count(ready.Prompt, plan.Model.Tokens());
        return new StoredReply(ready.Reply.Text.ToString(), status, error, ready.Reply.FinishReason, tokens,
            plan.Model.Cost(tokens.Prompt, tokens.Completion), ready.Citations, ready.Reply.ToolCalls.Any ? ready.Reply.ToolCalls.Calls : null);
    }

    /// <summary>The reply of a client that left before anything was prepared: empty, interrupted.</summary>
    private static StoredReply Nothing() => new("", "interrupted", null, null, default, 0m, []);
}
