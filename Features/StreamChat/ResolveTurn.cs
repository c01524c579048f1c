using System.Security.Claims;
using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Assistants;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.Mediation;
using ChatSlices.Infrastructure.Prompts;
using ChatSlices.Infrastructure.RateLimiting;
using Dapper;
using Microsoft.Extensions.Options;
using Microsoft.SemanticKernel.Connectors.OpenAI;
using Npgsql;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// Step 1 of a chat turn: everything that can fail before the first byte — the session and its history (owner only),
/// the assistant, the stored prompt, the model, the documents named, the quota reservation it needs — into a <see cref="TurnPlan"/>.
/// </summary>
public sealed class ResolveTurn(NpgsqlDataSource db, ModelCatalog catalog, TokenQuota quota, IOptions<AiSettings> ai, IOptions<ChatSettings> chat)
{
    private sealed record SessionRow(Guid Id, string Model, Guid? AssistantId);

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

    // Only the session's own documents are addressable by id: an assistant's knowledge reaches a turn through retrieval.
    private const string VisibleDocumentsSql = "SELECT count(*) FROM documents WHERE id = ANY(@Ids) AND session_id = @SessionId";

    /// <param name="ownSessionOnly">Continue only the caller's own session; otherwise a guest session may be continued by its id.</param>
    public async Task<Outcome<TurnPlan>> ResolveAsync(ChatRequest body, ClaimsPrincipal user, Caller caller, bool ownSessionOnly, CancellationToken ct)
    {
        var userId = user.UserId();
        var embeddingModel = catalog.Require(body.EmbeddingModel ?? ai.Value.EmbeddingModel, ModelKind.Embedding);
        if (embeddingModel.Failure is { } unknownEmbedder) return unknownEmbedder;

        var (session, history, noSession) = await LoadSessionAsync(body.EffectiveSessionId, userId, ownSessionOnly, ct);
        if (noSession) return Failure.NotFound("Session");
        var (assistant, assistantFailure) = await LoadAssistantAsync(body.AssistantId ?? session?.AssistantId, userId, ct);
        if (assistantFailure is not null) return assistantFailure;
        var userText = await UserTextAsync(body, userId, ct);
        if (userText.Failure is { } noPrompt) return noPrompt;

        var modelId = body.EffectiveModel
            ?? (session is not null && catalog.Find(session.Model, ModelKind.Chat) is not null ? session.Model : null)
            ?? assistant?.Model ?? catalog.DefaultChatModel;
        var model = catalog.Require(modelId, ModelKind.Chat);
        if (model.Failure is { } unknownModel) return unknownModel;

        // Turns the client sent replace the stored ones: an OpenAI-style client resends the whole conversation.
        var earlier = body.EarlierTurns.Select(t => new PastTurn(t.Role!, t.Content!)).ToList();
        if (earlier.Count > 0) history = earlier;

        var ids = new TurnIds(session?.Id ?? Guid.CreateVersion7(), session is null, Guid.CreateVersion7(), Guid.CreateVersion7());
        var referenced = (body.AttachmentConfig?.Attachments ?? []).Select(a => a.DocumentId!.Value).Concat(body.DocumentIds ?? []).Distinct().ToArray();
        if (referenced.Length > 0 && !await DocumentsVisibleAsync(referenced, ids.SessionId, ct))
            return Failure.NotFound("Document");

        var maxTokens = Math.Min(body.MaxTokens ?? assistant?.Settings.MaxTokens ?? 1024, model.Value!.MaxOutputTokens);
        var prompt = new TurnPrompt(body.EffectiveSystemPrompt ?? assistant?.Instructions, history, userText.Value!, body.PromptId,
            model.Value.ContextWindow - maxTokens, model.Value.Tokens());
        if (prompt.Tokens.CountMessage(prompt.SystemPrompt) + prompt.Tokens.CountMessage(prompt.UserText) > prompt.Budget)
            throw RequestValidationException.For(body.SystemPrompt is not null ? "system_prompt" : body.Messages is not null ? "messages" : "query",
                $"The system prompt and the question need more than the {prompt.Budget} tokens that model {model.Value.Id} leaves for the prompt after max_tokens.");

        var settings = new OpenAIPromptExecutionSettings
        {
            ModelId = model.Value.ProviderModel ?? model.Value.Id,
            Temperature = body.Temperature ?? assistant?.Settings.Temperature ?? 0.7,
            MaxTokens = maxTokens,
        };
        var context = Context(body, ids, assistant, model.Value, embeddingModel.Value!, prompt, settings, userId ?? caller.Subject, referenced.Length > 0);
        // Reserved when the turn starts, in the transaction that stores it (StoreTurn.StartAsync).
        var reservation = quota.For(caller, QuotaEstimate(prompt, context.Retrieval is not null && (session is not null || assistant is not null)) + maxTokens);

        return new TurnPlan(ids, new TurnOwner(userId, user.ApplicationId(), assistant?.Id), model.Value, prompt, context, settings, reservation);
    }

    private async Task<(SessionRow? Session, List<PastTurn> History, bool NotFound)> LoadSessionAsync(
        Guid? sessionId, string? userId, bool ownSessionOnly, CancellationToken ct)
    {
        if (sessionId is null) return (null, [], false);
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var results = await conn.QueryMultipleAsync(new CommandDefinition(LoadSessionSql,
            new { SessionId = sessionId, UserId = userId, GuestSessions = !ownSessionOnly, MaxHistory = chat.Value.MaxHistoryMessages }, cancellationToken: ct));
        var session = await results.ReadSingleOrDefaultAsync<SessionRow>();
        if (session is null) return (null, [], true);
        return (session, (await results.ReadAsync<PastTurn>()).AsList(), false);
    }

    private async Task<(AssistantProfile? Assistant, Failure? Failure)> LoadAssistantAsync(Guid? assistantId, string? userId, CancellationToken ct)
    {
        if (assistantId is null) return (null, null);
        await using var conn = await db.OpenConnectionAsync(ct);
        var assistant = await AssistantProfile.LoadAsync(conn, assistantId.Value, ct);
        if (assistant is null) return (null, Failure.NotFound("Assistant"));
        if (assistant.RequiresAuth && userId is null)
            return (null, new Failure(StatusCodes.Status401Unauthorized, "This assistant is for signed-in users; send a bearer token.", "authentication_required"));
        return (assistant, null);
    }

    /// <summary>The user's turn: the text sent, or the stored prompt filled with its variables.</summary>
    private async Task<Outcome<string>> UserTextAsync(ChatRequest body, string? userId, CancellationToken ct)
    {
        if (body.PromptId is not { } promptId) return body.UserTurn;
        await using var conn = await db.OpenConnectionAsync(ct);
        if (await PromptUsage.ReadAsync(conn, promptId, userId, ct) is not { } content) return Failure.NotFound("Prompt");
        var values = body.PromptVariableTexts;
        if (PromptTemplate.RenderedLength(content, values) > ChatRequest.MaxQueryChars)
            throw RequestValidationException.For("prompt_variables", $"The filled-in prompt would be longer than {ChatRequest.MaxQueryChars} characters.");
        var rendered = PromptTemplate.Render(content, values);
        if (rendered.MissingVariables.Count > 0)
            throw RequestValidationException.For("prompt_variables", "Missing: " + string.Join(", ", rendered.MissingVariables) + ".");
        return rendered.Text;
    }

    private static TurnContext Context(ChatRequest body, TurnIds ids, AssistantProfile? assistant, ModelSpec model, ModelSpec embeddingModel,
        TurnPrompt prompt, OpenAIPromptExecutionSettings settings, string asker, bool documentsNamed)
    {
        var mode = body.ContextMode ?? "rag";
        var retrieval = mode == "none" ? null : new RetrievalRequest(ids.SessionId, assistant?.Id, mode, body.RagConfig,
            body.AttachmentConfig, body.DocumentIds, embeddingModel, prompt.UserText, prompt.Budget / 2, prompt.Tokens);
        // The cache answers only turns whose context is the assistant's own: default retrieval, no chosen documents.
        var cacheable = assistant is { Settings.CacheEnabled: true } && mode is "rag" or "none" && body.RagConfig is null && !documentsNamed;
        var cacheKey = cacheable
            ? SemanticCache.For(assistant!, model, prompt, settings, asker, embeddingModel, mode)
            : null;
        return new TurnContext(retrieval, cacheKey, embeddingModel);
    }

    /// <summary>The prompt as far as known, plus what retrieval may add: the quota is reserved for the worst case.</summary>
    private static long QuotaEstimate(TurnPrompt prompt, bool retrieves)
    {
        var known = prompt.Tokens.CountMessage(prompt.SystemPrompt) + prompt.Tokens.CountMessage(prompt.UserText)
                    + prompt.History.Sum(t => prompt.Tokens.CountMessage(t.Content));
        return Math.Min(known + (retrieves ? prompt.Budget / 2 : 0), prompt.Budget);
    }

    private async Task<bool> DocumentsVisibleAsync(Guid[] ids, Guid sessionId, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var visible = await conn.ExecuteScalarAsync<long>(new CommandDefinition(VisibleDocumentsSql,
            new { Ids = ids, SessionId = sessionId }, cancellationToken: ct));
        return visible == ids.Length;
    }
}
