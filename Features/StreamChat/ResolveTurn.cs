using System.Text.Json;
using System.Security.Claims;
using System.Text;
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

    /// <summary>What the turn reads from the database, each part only when the request needs it.</summary>
    private sealed record Lookups(SessionRow? Session, List<PastTurn> History, AssistantProfile? Assistant, string? PromptContent, long VisibleDocuments);

    private const string VisibleSession = "(s.user_id = @UserId OR (@GuestSessions AND s.user_id IS NULL))";

    private const string SessionSql = $"SELECT s.id, s.model, s.assistant_id FROM chat_sessions s WHERE s.id = @SessionId AND {VisibleSession};";

    private const string HistorySql = $"""
        SELECT role, content FROM (
            SELECT role, content, created_at FROM chat_messages
            WHERE session_id = @SessionId AND status <> 'error' AND role IN ('user', 'assistant')
              AND EXISTS (SELECT 1 FROM chat_sessions s WHERE s.id = @SessionId AND {VisibleSession})
            ORDER BY created_at DESC
            LIMIT @MaxHistory
        ) recent ORDER BY created_at;
        """;

    // The assistant named, else the session's own.
    private const string AssistantSql = $"""
        SELECT {AssistantProfile.Columns} FROM assistants
        WHERE id = coalesce(@AssistantId, (SELECT s.assistant_id FROM chat_sessions s WHERE s.id = @SessionId AND {VisibleSession}));
        """;

    // Only the session's own documents are addressable by id: an assistant's knowledge reaches a turn through retrieval.
    private const string VisibleDocumentsSql = "SELECT count(*) FROM documents WHERE id = ANY(@Ids) AND session_id = @SessionId;";

    /// <param name="ownSessionOnly">Continue only the caller's own session; otherwise a guest session may be continued by its id.</param>
    public async Task<Outcome<TurnPlan>> ResolveAsync(ChatRequest body, ClaimsPrincipal user, Caller caller, bool ownSessionOnly, CancellationToken ct)
    {
        var userId = user.UserId();
        var embeddingModel = catalog.Require(body.EmbeddingModel ?? ai.Value.EmbeddingModel, ModelKind.Embedding);
        if (embeddingModel.Failure is { } unknownEmbedder) return unknownEmbedder;

        var referenced = (body.AttachmentConfig?.Attachments ?? []).Select(a => a.DocumentId!.Value).Concat(body.DocumentIds ?? []).Distinct().ToArray();
        var found = await LookupAsync(body, userId, ownSessionOnly, referenced, ct);
        var session = found.Session;
        if (body.EffectiveSessionId is not null && session is null) return Failure.NotFound("Session");
        var assistant = found.Assistant;
        if ((body.AssistantId ?? session?.AssistantId) is not null && assistant is null) return Failure.NotFound("Assistant");
        if (assistant is { RequiresAuth: true } && userId is null)
            return new Failure(StatusCodes.Status401Unauthorized, "This assistant is for signed-in users; send a bearer token.", "authentication_required");
        var userText = UserText(body, found.PromptContent);
        if (userText.Failure is { } noPrompt) return noPrompt;

        var modelId = body.EffectiveModel
            ?? (session is not null && catalog.Find(session.Model, ModelKind.Chat) is not null ? session.Model : null)
            ?? assistant?.Model ?? catalog.DefaultChatModel;
        var model = catalog.Require(modelId, ModelKind.Chat);
        if (model.Failure is { } unknownModel) return unknownModel;

        // Turns the client sent replace the stored ones: an OpenAI-style client resends the whole conversation.
        var earlier = body.EarlierTurns.Select(t => new PastTurn(t.Role!, t.Text!)).ToList();
        var history = earlier.Count > 0 ? earlier : found.History;

        var ids = new TurnIds(session?.Id ?? Guid.CreateVersion7(), session is null, Guid.CreateVersion7(), Guid.CreateVersion7());
        if (found.VisibleDocuments != referenced.Length) return Failure.NotFound("Document");

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
            TopP = body.TopP,
            StopSequences = body.StopSequences?.ToList(),
            Seed = body.Seed,
            PresencePenalty = body.PresencePenalty,
            FrequencyPenalty = body.FrequencyPenalty,
            TokenSelectionBiases = body.LogitBias?.ToDictionary(b => int.Parse(b.Key, System.Globalization.CultureInfo.InvariantCulture), b => b.Value),
            // json_schema goes as its JSON ({type, json_schema}), which Semantic Kernel passes on as it is.
            ResponseFormat = body.ResponseFormat is { Type: "json_schema" } schema
                ? JsonSerializer.SerializeToElement(new { type = "json_schema", json_schema = schema.JsonSchema })
                : body.ResponseFormat?.Type,
            User = body.User,
        };
        var context = Context(body, ids, assistant, model.Value, embeddingModel.Value!, prompt, settings, userId ?? caller.Subject, referenced.Length > 0);
        // Reserved when the turn starts, in the transaction that stores it (StoreTurn.StartAsync).
        var reservation = quota.For(caller, QuotaEstimate(prompt, context.Retrieval is not null && (session is not null || assistant is not null)) + maxTokens);

        return new TurnPlan(ids, new TurnOwner(userId, user.ApplicationId(), assistant?.Id), model.Value, prompt, context, settings, reservation);
    }

    /// <summary>
    /// The session and its history, the assistant, the stored prompt and how many of the named documents the session
    /// holds: one round trip, whose statements are those the request needs. Checked by the caller in the order of the
    /// failures it can return.
    /// </summary>
    private async Task<Lookups> LookupAsync(ChatRequest body, string? userId, bool ownSessionOnly, Guid[] referencedDocuments, CancellationToken ct)
    {
        var sessionId = body.EffectiveSessionId;
        var withAssistant = body.AssistantId is not null || sessionId is not null;
        var sql = new StringBuilder();
        if (sessionId is not null) sql.AppendLine(SessionSql).AppendLine(HistorySql);
        if (withAssistant) sql.AppendLine(AssistantSql);
        if (body.PromptId is not null) sql.Append(PromptUsage.ReadSql).AppendLine(";");
        if (referencedDocuments.Length > 0) sql.AppendLine(VisibleDocumentsSql);
        if (sql.Length == 0) return new Lookups(null, [], null, null, 0);

        await using var conn = await db.OpenConnectionAsync(ct);
        await using var results = await conn.QueryMultipleAsync(new CommandDefinition(sql.ToString(), new
        {
            SessionId = sessionId, UserId = userId, GuestSessions = !ownSessionOnly, MaxHistory = chat.Value.MaxHistoryMessages,
            body.AssistantId, body.PromptId, Ids = referencedDocuments,
        }, cancellationToken: ct));
        var session = sessionId is null ? null : await results.ReadSingleOrDefaultAsync<SessionRow>();
        var history = sessionId is null ? [] : (await results.ReadAsync<PastTurn>()).AsList();
        var assistant = withAssistant ? await AssistantProfile.ReadAsync(results) : null;
        var prompt = body.PromptId is null ? null : await results.ReadSingleOrDefaultAsync<string>();
        var documents = referencedDocuments.Length > 0 ? await results.ReadSingleAsync<long>() : 0;
        return new Lookups(session, history, assistant, prompt, documents);
    }

    /// <summary>The user's turn: the text sent, or the stored prompt (its <paramref name="promptContent"/>) filled with its variables.</summary>
    private static Outcome<string> UserText(ChatRequest body, string? promptContent)
    {
        if (body.PromptId is null) return body.UserTurn;
        if (promptContent is null) return Failure.NotFound("Prompt");
        var values = body.PromptVariableTexts;
        if (PromptTemplate.RenderedLength(promptContent, values) > ChatRequest.MaxQueryChars)
            throw RequestValidationException.For("prompt_variables", $"The filled-in prompt would be longer than {ChatRequest.MaxQueryChars} characters.");
        var rendered = PromptTemplate.Render(promptContent, values);
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
}
