using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Assistants;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Mediation;
using ChatSlices.Infrastructure.Prompts;
using ChatSlices.Infrastructure.RateLimiting;
using ChatSlices.Infrastructure.Retrieval;
using Dapper;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ChatSlices.Infrastructure.Chat;

/// <summary>
/// The one chat pipeline behind every door (SSE, NDJSON, tokens, OpenAI format, non-streaming turns).
/// <see cref="PrepareAsync"/> checks everything that can fail before the first byte (session ownership, model,
/// assistant); the returned <see cref="ChatRun.Events"/> then stores the user turn (overlapping the model call),
/// streams the reply as it arrives, and stores the reply (complete, interrupted or error) however the stream ends.
/// </summary>
public sealed class ChatPipeline(
    NpgsqlDataSource db, ModelCatalog catalog, ModelProviders providers, Retriever retriever, SemanticCache cache, TokenQuota quota,
    IOptions<AiSettings> ai, IOptions<ChatSettings> chat, IHostApplicationLifetime lifetime, ILogger<ChatPipeline> logger)
{
    private static readonly TimeSpan StoreTimeout = TimeSpan.FromSeconds(10);

    private sealed record SessionRow(Guid Id, string Model, Guid? AssistantId);

    private sealed record Turn(string Role, string Content);

    private sealed record Prepared(
        Guid SessionId, bool NewSession, string Title, string? UserId, string? ApplicationId, Guid? AssistantId,
        Guid UserMessageId, Guid MessageId, ModelSpec Model, string UserTurn, Guid? PromptId, string? SystemPrompt, List<Turn> History,
        RetrievalRequest? Retrieval, SemanticCache.Key? CacheKey, int PromptBudget, ChatOptions Options, TokenQuota.Reservation? Reservation)
    {
        /// <summary>Tokens the stored reply counts (prompt + completion), for settling the quota reservation.</summary>
        public long TokensUsed { get; set; }
    }

    private const string LoadSessionSql = """
        SELECT id, model, assistant_id FROM chat_sessions
        WHERE id = @SessionId AND (user_id = @UserId OR (@GuestSessions AND user_id IS NULL));

        SELECT role, content FROM (
            SELECT role, content, created_at FROM chat_messages
            WHERE session_id = @SessionId AND status <> 'error' AND role IN ('user', 'assistant')
              AND EXISTS (SELECT 1 FROM chat_sessions s WHERE s.id = @SessionId AND (s.user_id = @UserId OR (@GuestSessions AND s.user_id IS NULL)))
            ORDER BY created_at DESC
            LIMIT @MaxHistory
        ) recent ORDER BY created_at;
        """;

    // The stored prompt a turn was built from counts a use here, with the turn: only a turn that passed every check.
    private const string InsertSessionAndTurnSql = $"""
        INSERT INTO chat_sessions (id, user_id, application_id, assistant_id, model, title)
        VALUES (@SessionId, @UserId, @ApplicationId, @AssistantId, @Model, @Title);
        INSERT INTO chat_messages (id, session_id, role, content, model)
        VALUES (@UserMessageId, @SessionId, 'user', @Content, @Model);
        {PromptUsage.CountSql};
        """;

    private const string InsertTurnSql = $"""
        INSERT INTO chat_messages (id, session_id, role, content, model)
        VALUES (@UserMessageId, @SessionId, 'user', @Content, @Model);
        UPDATE chat_sessions SET updated_at = now(), title = coalesce(title, @Title) WHERE id = @SessionId;
        {PromptUsage.CountSql};
        """;

    private const string InsertReplySql = """
        INSERT INTO chat_messages (id, session_id, role, content, model, status, error, finish_reason,
                                   prompt_tokens, completion_tokens, cost, usage_estimated, sources)
        VALUES (@MessageId, @SessionId, 'assistant', @Content, @Model, @Status, @Error, @FinishReason,
                @PromptTokens, @CompletionTokens, @Cost, @Estimated, @Sources::jsonb);
        UPDATE chat_sessions SET updated_at = now() WHERE id = @SessionId;
        """;

    /// <param name="ownSessionOnly">Continue only the caller's own session; otherwise a guest session may be continued by its id.</param>
    public async Task<Outcome<ChatRun>> PrepareAsync(ChatRequest body, ClaimsPrincipal user, Caller caller, bool ownSessionOnly, CancellationToken ct)
    {
        var userId = user.UserId();

        var embeddingModelId = body.EmbeddingModel ?? ai.Value.EmbeddingModel;
        if (catalog.Find(embeddingModelId, ModelKind.Embedding) is not { } embeddingModel)
            return Failure.BadRequest($"Unknown embedding model '{embeddingModelId}'. GET /v1/models lists them.", "model_not_found");

        SessionRow? session = null;
        var history = new List<Turn>();
        if (body.EffectiveSessionId is { } sessionId)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            await using var results = await conn.QueryMultipleAsync(new CommandDefinition(LoadSessionSql,
                new { SessionId = sessionId, UserId = userId, GuestSessions = !ownSessionOnly, MaxHistory = chat.Value.MaxHistoryMessages }, cancellationToken: ct));
            session = await results.ReadSingleOrDefaultAsync<SessionRow>();
            if (session is null) return Failure.NotFound("Session");
            history.AddRange(await results.ReadAsync<Turn>());
        }

        AssistantProfile? assistant = null;
        if ((body.AssistantId ?? session?.AssistantId) is { } assistantId)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            assistant = await AssistantProfile.LoadAsync(conn, assistantId, ct);
            if (assistant is null) return Failure.NotFound("Assistant");
            if (assistant.RequiresAuth && userId is null)
                return new Failure(StatusCodes.Status401Unauthorized, "This assistant is for signed-in users; send a bearer token.", "authentication_required");
        }

        var userTurnText = body.UserTurn;
        if (body.PromptId is { } promptId)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            if (await PromptUsage.ReadAsync(conn, promptId, userId, ct) is not { } content) return Failure.NotFound("Prompt");
            var values = body.PromptVariableTexts;
            if (PromptTemplate.RenderedLength(content, values) > ChatRequest.MaxQueryChars)
                throw RequestValidationException.For("prompt_variables", $"The filled-in prompt would be longer than {ChatRequest.MaxQueryChars} characters.");
            var rendered = PromptTemplate.Render(content, values);
            if (rendered.MissingVariables.Count > 0)
                throw RequestValidationException.For("prompt_variables", "Missing: " + string.Join(", ", rendered.MissingVariables) + ".");
            userTurnText = rendered.Text;
        }

        var modelId = body.EffectiveModel
            ?? (session is not null && catalog.Find(session.Model, ModelKind.Chat) is not null ? session.Model : null)
            ?? assistant?.Model ?? ai.Value.DefaultModel;
        if (catalog.Find(modelId, ModelKind.Chat) is not { } model)
            return Failure.BadRequest($"Unknown model '{modelId}'. GET /v1/models lists the chat models.", "model_not_found");

        // Turns the client sent replace the stored ones: an OpenAI-style client resends the whole conversation.
        var earlier = body.EarlierTurns.Select(t => new Turn(t.Role!, t.Content!)).ToList();
        if (earlier.Count > 0) history = earlier;

        var sessionIdToUse = session?.Id ?? Guid.CreateVersion7();
        var referenced = (body.AttachmentConfig?.Attachments ?? []).Select(a => a.DocumentId!.Value).Concat(body.DocumentIds ?? []).Distinct().ToArray();
        if (referenced.Length > 0 && !await DocumentsVisibleAsync(referenced, sessionIdToUse, assistant?.Id, ct))
            return Failure.NotFound("Document");

        var maxTokens = Math.Min(body.MaxTokens ?? assistant?.Settings.MaxTokens ?? 1024, model.MaxOutputTokens);
        var promptBudget = model.ContextWindow - maxTokens;
        var mode = body.ContextMode ?? "rag";
        var systemPrompt = body.EffectiveSystemPrompt ?? assistant?.Instructions;
        // The cache answers only turns whose context is the assistant's own: default retrieval, no chosen documents.
        var cacheable = assistant is { Settings.CacheEnabled: true } && mode is "rag" or "none" && body.RagConfig is null && referenced.Length == 0;
        // The quota is reserved for the worst case: the prompt as far as known, the context retrieval may add, max_tokens.
        var retrieves = mode != "none" && (session is not null || assistant is not null);
        var promptEstimate = TokenEstimator.CountMessage(systemPrompt) + TokenEstimator.CountMessage(userTurnText)
                             + history.Sum(t => TokenEstimator.CountMessage(t.Content)) + (retrieves ? promptBudget / 2 : 0);
        var reservation = await quota.ReserveAsync(caller, Math.Min(promptEstimate, promptBudget) + maxTokens, ct);
        if (reservation.Failure is { } overQuota) return overQuota;

        var prepared = new Prepared(
            SessionId: sessionIdToUse,
            NewSession: session is null,
            Title: TitleFrom(userTurnText),
            UserId: userId,
            ApplicationId: user.ApplicationId(),
            AssistantId: assistant?.Id,
            UserMessageId: Guid.CreateVersion7(),
            MessageId: Guid.CreateVersion7(),
            Model: model,
            UserTurn: userTurnText,
            PromptId: body.PromptId,
            SystemPrompt: systemPrompt,
            History: history,
            Retrieval: mode == "none" ? null : new RetrievalRequest(sessionIdToUse, assistant?.Id, mode, body.RagConfig,
                body.AttachmentConfig, body.DocumentIds, embeddingModel, userTurnText, promptBudget / 2),
            CacheKey: cacheable ? SemanticCache.For(assistant!, model, systemPrompt, history.Select(t => (t.Role, t.Content)), userTurnText, embeddingModel, mode) : null,
            PromptBudget: promptBudget,
            Options: new ChatOptions { ModelId = model.ProviderModel ?? model.Id, Temperature = (float)(body.Temperature ?? assistant?.Settings.Temperature ?? 0.7), MaxOutputTokens = maxTokens },
            Reservation: reservation.Value);

        return new ChatRun(prepared.SessionId, prepared.MessageId, model.Id, prepared.AssistantId, MeteredAsync(prepared));
    }

    /// <summary>The run, then the quota reservation settled to what the stored reply counts, however the run ends.</summary>
    private async IAsyncEnumerable<ChatEvent> MeteredAsync(Prepared p, [EnumeratorCancellation] CancellationToken ct = default)
    {
        try
        {
            await foreach (var e in RunAsync(p).WithCancellation(ct)) yield return e;
        }
        finally
        {
            if (p.Reservation is { } reservation)
                await quota.SettleAsync(reservation, p.TokensUsed);
        }
    }

    private async IAsyncEnumerable<ChatEvent> RunAsync(Prepared p, [EnumeratorCancellation] CancellationToken ct = default)
    {
        yield return new SessionStarted(p.SessionId, p.MessageId, p.UserMessageId, p.Model.Id, p.AssistantId);

        var settings = ai.Value;
        // Awaited before the first token and before the reply is stored (the reply row refers to the session it may create).
        var userTurnFailure = UserTurnFailedAsync(StoreUserTurnAsync(p));
        ChatFailed? failure = null;

        string? questionEmbedding = null;
        if (p.CacheKey is { } key)
        {
            SemanticCache.Hit? hit = null;
            try
            {
                (hit, questionEmbedding) = await cache.LookupAsync(key, p.SessionId, ct);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                logger.LogWarning(e, "Semantic cache lookup failed; answering without it");
            }
            if (hit is not null)
            {
                await foreach (var e in ReplayAsync(p, hit, userTurnFailure).WithCancellation(ct)) yield return e;
                yield break;
            }
        }

        IReadOnlyList<Passage> passages = [];
        if (p.Retrieval is not null && (!p.NewSession || p.AssistantId is not null))
        {
            try
            {
                passages = await retriever.RetrieveAsync(p.Retrieval, ct);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                logger.LogError(e, "Retrieval failed");
                failure = RetrievalFailed;
            }
        }
        var citations = passages.Select(passage => Cite(passage, p.UserTurn)).ToList();
        yield return new SourcesFound(citations);
        var prompt = PromptFitter.Fit(WithContext(p.SystemPrompt, passages), p.History.Select(t => (t.Role, t.Content)), p.UserTurn, p.PromptBudget);

        // Stopping the service cuts the model call short; the reply ends like any failed one, stored as interrupted.
        using var upstream = CancellationTokenSource.CreateLinkedTokenSource(ct, lifetime.ApplicationStopping);
        upstream.CancelAfter(TimeSpan.FromSeconds(settings.FirstTokenTimeoutSeconds));
        var started = Stopwatch.GetTimestamp();

        var reply = new StringBuilder();
        UsageDetails? usage = null;
        string? finishReason = null;
        var firstText = true;
        var stored = false;
        try
        {
            await using (var updates = providers.ChatClient(p.Model).GetStreamingResponseAsync(prompt, p.Options, upstream.Token).GetAsyncEnumerator(upstream.Token))
            {
                while (failure is null)
                {
                    bool more;
                    try
                    {
                        more = await updates.MoveNextAsync();
                    }
                    catch (Exception e) when (!ct.IsCancellationRequested)
                    {
                        failure = lifetime.ApplicationStopping.IsCancellationRequested
                            ? ShuttingDown
                            : ProviderFailure(e, upstream.IsCancellationRequested, firstText, settings);
                        break;
                    }
                    if (!more) break;

                    var update = updates.Current;
                    finishReason = update.FinishReason?.Value ?? finishReason;
                    usage = update.Contents.OfType<UsageContent>().LastOrDefault()?.Details ?? usage;
                    var text = update.Text;
                    if (string.IsNullOrEmpty(text)) continue;
                    if (firstText)
                    {
                        firstText = false;
                        if (await userTurnFailure is { } storageFailure) { failure = storageFailure; break; }
                        var left = TimeSpan.FromSeconds(settings.ReplyTimeoutSeconds) - Stopwatch.GetElapsedTime(started);
                        upstream.CancelAfter(left > TimeSpan.Zero ? left : TimeSpan.Zero); // a first token later than the whole reply's timeout
                    }
                    reply.Append(text);
                    yield return new TextDelta(text);
                }
            }

            var turnFailure = await userTurnFailure;
            failure ??= turnFailure;
            var (promptTokens, completionTokens, estimated) = Count(prompt, reply, usage);
            var cost = p.Model.Cost(promptTokens, completionTokens);
            if (turnFailure is null
                && !await StoreReplyAsync(p, reply, StatusAfter(failure), failure?.Message, finishReason, promptTokens, completionTokens, cost, estimated, citations))
                failure ??= StorageFailed;
            stored = true;

            if (failure is not null)
            {
                yield return failure;
                yield return new Done(false, p.SessionId, p.MessageId, finishReason, Cached: false);
                yield break;
            }
            // Only whole answers are worth replaying: not one cut short by max_tokens or a filter, not an empty one.
            if (p.CacheKey is { } cacheKey && questionEmbedding is not null && finishReason is null or "stop" && reply.Length > 0)
                await RememberAsync(cacheKey, questionEmbedding, p.SessionId, reply.ToString(), citations);
            yield return new UsageReported(promptTokens, completionTokens, promptTokens + completionTokens, cost, estimated);
            yield return new Done(true, p.SessionId, p.MessageId, finishReason ?? "stop", Cached: false);
        }
        finally
        {
            // The client went away (or the writer failed): keep what was said, marked as interrupted.
            if (!stored && await userTurnFailure is null)
            {
                var (promptTokens, completionTokens, estimated) = Count(prompt, reply, usage);
                await StoreReplyAsync(p, reply, "interrupted", null, finishReason, promptTokens, completionTokens,
                    p.Model.Cost(promptTokens, completionTokens), estimated, citations);
            }
        }
    }

    /// <summary>A cache hit told like any reply: sources, the stored answer in pieces, usage of nothing, done with its similarity.</summary>
    private async IAsyncEnumerable<ChatEvent> ReplayAsync(Prepared p, SemanticCache.Hit hit, Task<ChatFailed?> userTurnFailure, [EnumeratorCancellation] CancellationToken ct = default)
    {
        var citations = JsonSerializer.Deserialize<List<Citation>>(hit.Sources, StoredJson) ?? [];
        yield return new SourcesFound(citations);
        if (await userTurnFailure is { } failed)
        {
            yield return failed;
            yield return new Done(false, p.SessionId, p.MessageId, null, Cached: true);
            yield break;
        }
        var reply = new StringBuilder();
        bool? stored = null; // null until the whole answer has been told
        try
        {
            foreach (var piece in hit.Answer.Split(' ').Select((word, i) => i == 0 ? word : " " + word))
            {
                ct.ThrowIfCancellationRequested();
                reply.Append(piece);
                yield return new TextDelta(piece);
            }
            stored = await StoreReplyAsync(p, reply, "complete", null, "stop", 0, 0, 0m, estimated: false, citations);
        }
        finally
        {
            // The client went away mid-answer: keep what was told, marked as interrupted.
            if (stored is null) await StoreReplyAsync(p, reply, "interrupted", null, null, 0, 0, 0m, estimated: false, citations);
        }
        if (stored == false)
        {
            yield return StorageFailed;
            yield return new Done(false, p.SessionId, p.MessageId, null, Cached: true);
            yield break;
        }
        yield return new UsageReported(0, 0, 0, 0m, Estimated: false);
        yield return new Done(true, p.SessionId, p.MessageId, "stop", Cached: true, hit.Similarity);
    }

    private async Task RememberAsync(SemanticCache.Key key, string embedding, Guid sessionId, string answer, List<Citation> citations)
    {
        try
        {
            using var timeout = new CancellationTokenSource(StoreTimeout);
            await cache.StoreAsync(key, embedding, sessionId, answer, JsonSerializer.Serialize(citations, StoredJson), timeout.Token);
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException)
        {
            logger.LogWarning(e, "Storing the answer in the semantic cache failed");
        }
    }

    private static readonly ChatFailed StorageFailed = new("storage_failed", "The conversation could not be saved; retry later.")
    {
        HttpStatus = StatusCodes.Status503ServiceUnavailable,
    };

    private static readonly ChatFailed ShuttingDown = new("shutting_down", "The service is restarting; the reply so far is kept. Retry the request.")
    {
        HttpStatus = StatusCodes.Status503ServiceUnavailable,
    };

    private static string StatusAfter(ChatFailed? failure) => failure is null ? "complete" : failure == ShuttingDown ? "interrupted" : "error";

    private static ChatFailed ProviderFailure(Exception e, bool timedOut, bool beforeFirstText, AiSettings settings)
    {
        var error = timedOut
            ? beforeFirstText ? ProviderError.FirstTokenTimeout(settings.FirstTokenTimeoutSeconds) : ProviderError.ReplyTimeout(settings.ReplyTimeoutSeconds)
            : ProviderError.From(e);
        return new ChatFailed(error.Code, error.Message) { HttpStatus = error.HttpStatus };
    }

    private Task StoreUserTurnAsync(Prepared p) => ExecuteDetachedAsync(p.NewSession ? InsertSessionAndTurnSql : InsertTurnSql, new
    {
        p.SessionId, p.UserId, p.ApplicationId, p.AssistantId, Model = p.Model.Id, p.Title, p.UserMessageId, Content = p.UserTurn, p.PromptId,
    });

    private async Task<ChatFailed?> UserTurnFailedAsync(Task userTurn)
    {
        try
        {
            await userTurn;
            return null;
        }
        catch (Exception e)
        {
            logger.LogError(e, "Storing the user turn failed");
            return StorageFailed;
        }
    }

    /// <summary>Stores the reply; false (logged) when the database cannot take it, so the stream can say so.</summary>
    private async Task<bool> StoreReplyAsync(Prepared p, StringBuilder reply, string status, string? error, string? finishReason,
        int promptTokens, int completionTokens, decimal cost, bool estimated, List<Citation> citations)
    {
        p.TokensUsed = promptTokens + completionTokens;
        try
        {
            await ExecuteDetachedAsync(InsertReplySql, new
            {
                p.MessageId, p.SessionId, Content = reply.ToString(), Model = p.Model.Id, Status = status, Error = error,
                FinishReason = finishReason, PromptTokens = promptTokens, CompletionTokens = completionTokens, Cost = cost, Estimated = estimated,
                Sources = JsonSerializer.Serialize(citations, StoredJson),
            });
            return true;
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException)
        {
            logger.LogError(e, "Storing the {Status} reply {MessageId} failed", status, p.MessageId);
            return false;
        }
    }

    private static readonly JsonSerializerOptions StoredJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private static readonly ChatFailed RetrievalFailed = new("retrieval_failed", "The documents could not be searched; retry later.")
    {
        HttpStatus = StatusCodes.Status503ServiceUnavailable,
    };

    private static Citation Cite(Passage passage, string question) => new(passage.DocumentId, passage.Title, passage.Page, passage.ChunkId,
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

    private async Task<bool> DocumentsVisibleAsync(Guid[] ids, Guid sessionId, Guid? assistantId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var visible = await conn.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM documents WHERE id = ANY(@Ids) AND (session_id = @SessionId OR assistant_id = @AssistantId)",
            new { Ids = ids, SessionId = sessionId, AssistantId = assistantId }, cancellationToken: ct));
        return visible == ids.Length;
    }

    /// <summary>Writes that must land even when the client has gone: not tied to the request, bounded by a timeout.</summary>
    private async Task ExecuteDetachedAsync(string sql, object parameters)
    {
        using var timeout = new CancellationTokenSource(StoreTimeout);
        await using var conn = await db.OpenConnectionAsync(timeout.Token);
        await conn.ExecuteAsync(new CommandDefinition(sql, parameters, cancellationToken: timeout.Token));
    }

    private static (int Prompt, int Completion, bool Estimated) Count(List<ChatMessage> prompt, StringBuilder reply, UsageDetails? usage) =>
        usage is { InputTokenCount: { } input, OutputTokenCount: { } output }
            ? ((int)input, (int)output, false)
            : (prompt.Sum(m => TokenEstimator.CountMessage(m.Text)), TokenEstimator.Count(reply.ToString()), true);

    private static string TitleFrom(string userTurn)
    {
        var flat = userTurn.CollapseWhitespace();
        if (flat.Length <= 60) return flat;
        var cut = flat.LastIndexOf(' ', 60);
        return flat[..(cut > 20 ? cut : 60)] + "…";
    }
}
