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
    private sealed record SessionRow(Guid Id, string Model, Guid? AssistantId, Guid? ActiveLeafId, string? SystemPrompt, double? Temperature, int? MaxTokens);

    /// <summary>The stored user turn a regenerate or an edit is placed beside (<see cref="TurnAnchor"/>).</summary>
    private sealed record AnchorRow(Guid Id, Guid? ParentId, string Role, string Content);

    /// <summary>A stored turn: its tool calls (an assistant's) or tool answers (a tool turn's) as their JSON.</summary>
    private sealed record HistoryRow(string Role, string Content, string? ToolCalls)
    {
        public PastTurn ToTurn() => new(Role, Content, ToolCalls is null ? null : JsonDocument.Parse(ToolCalls).RootElement.Clone());
    }

    /// <summary>What the turn reads from the database, each part only when the request needs it.</summary>
    private sealed record Lookups(SessionRow? Session, AnchorRow? Anchor, List<PastTurn> History, AssistantProfile? Assistant, string? PromptContent,
        long VisibleDocuments);

    private const string VisibleSession = "(s.user_id = @UserId OR (@GuestSessions AND s.user_id IS NULL))";

    private const string SessionSql = $"""
        SELECT s.id, s.model, s.assistant_id, s.active_leaf_id, s.system_prompt, s.temperature, s.max_tokens
        FROM chat_sessions s WHERE s.id = @SessionId AND {VisibleSession};
        """;

    // The user turn named, or the one a named reply answers when regenerating; a message of the session only.
    private const string AnchorFrom = """
        FROM chat_messages a JOIN chat_messages u ON u.id = CASE WHEN @Regenerate AND a.role = 'assistant' THEN a.parent_id ELSE a.id END
        WHERE a.id = @AnchorId AND a.session_id = s.id
        """;

    private const string AnchorSql = $"SELECT u.id, u.parent_id, u.role, u.content FROM chat_sessions s, LATERAL (SELECT u.* {AnchorFrom}) u WHERE s.id = @SessionId AND {VisibleSession};";

    // The branch the new turn continues: the active one, or the one above the anchor. Its last turns, oldest first.
    private const string HistorySql = $"""
        WITH RECURSIVE session AS (
            SELECT CASE WHEN @AnchorId::uuid IS NULL THEN s.active_leaf_id ELSE (SELECT u.parent_id {AnchorFrom}) END AS active_leaf_id
            FROM chat_sessions s WHERE s.id = @SessionId AND {VisibleSession}
        ),
        {Sessions.SessionViews.ActiveBranchCte}
        SELECT role, content, tool_calls::text AS tool_calls FROM (
            SELECT m.role, m.content, m.tool_calls, b.depth FROM branch b JOIN chat_messages m ON m.id = b.id
            WHERE m.status <> 'error' AND m.role IN ('user', 'assistant', 'tool')
            ORDER BY b.depth
            LIMIT @MaxHistory
        ) recent ORDER BY depth DESC;
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
        var anchor = found.Anchor;
        if (body.Anchor is not null && anchor is null) return Failure.NotFound("Message");
        if (anchor is { Role: not "user" })
            throw RequestValidationException.For("message_id", body.Anchor!.Regenerate
                ? "Only a reply, or the user turn it answers, can be regenerated."
                : BranchTurns.UserTurnsOnly);
        var assistant = found.Assistant;
        if ((body.AssistantId ?? session?.AssistantId) is not null && assistant is null) return Failure.NotFound("Assistant");
        if (assistant is { RequiresAuth: true } && userId is null)
            return new Failure(StatusCodes.Status401Unauthorized, "This assistant is for signed-in users; send a bearer token.", "authentication_required");
        var userText = body.Anchor is { Regenerate: true } ? anchor!.Content : UserText(body, found.PromptContent);
        if (userText.Failure is { } noPrompt) return noPrompt;

        var modelId = body.EffectiveModel
            ?? (session is not null && catalog.Find(session.Model, ModelKind.Chat) is not null ? session.Model : null)
            ?? assistant?.Model ?? catalog.DefaultChatModel;
        var model = catalog.Require(modelId, ModelKind.Chat);
        if (model.Failure is { } unknownModel) return unknownModel;

        // Turns the client sent replace the stored ones: an OpenAI-style client resends the whole conversation.
        var earlier = body.EarlierTurns.Select(ToPastTurn).ToList();
        var history = earlier.Count > 0 ? earlier : found.History;
        if (body.NewTurn is [{ Role: "tool" }, ..] && earlier.Count == 0)
            CheckAnswersStoredCalls(body.NewTurn, body.Messages!.Count - body.NewTurn.Count, found.History);
        if (!model.Value!.Vision && (body.Messages ?? body.History ?? []).FindIndex(t => t?.ImageParts is not null) is var withImage and >= 0)
            throw RequestValidationException.For($"{(body.Messages is not null ? "messages" : "history")}[{withImage}].content",
                $"image_url parts need a model that takes images; model {model.Value.Id} does not (its catalog entry has no Vision: true).");

        var ids = body.Anchor is { Regenerate: true }
            ? new TurnIds(session!.Id, false, anchor!.Id, Guid.CreateVersion7(), anchor.ParentId, UserTurnStored: true)
            : new TurnIds(session?.Id ?? Guid.CreateVersion7(), session is null, Guid.CreateVersion7(), Guid.CreateVersion7(),
                anchor is null ? session?.ActiveLeafId : anchor.ParentId);
        if (found.VisibleDocuments != referenced.Length) return Failure.NotFound("Document");

        // The turn's own settings, else the session's, else the assistant's.
        var maxTokens = Math.Min(body.MaxTokens ?? session?.MaxTokens ?? assistant?.Settings.MaxTokens ?? 1024, model.Value!.MaxOutputTokens);
        var prompt = new TurnPrompt(body.EffectiveSystemPrompt ?? session?.SystemPrompt ?? assistant?.Instructions, history, NewTurn(body, userText.Value!), body.PromptId,
            model.Value.ContextWindow - maxTokens, model.Value.Tokens());
        if (prompt.Tokens.CountMessage(prompt.SystemPrompt) + prompt.Tokens.CountMessage(prompt.UserText) > prompt.Budget)
            throw RequestValidationException.For(body.SystemPrompt is not null ? "system_prompt" : body.Messages is not null ? "messages" : "query",
                $"The system prompt and the question need more than the {prompt.Budget} tokens that model {model.Value.Id} leaves for the prompt after max_tokens.");

        var settings = new OpenAIPromptExecutionSettings
        {
            ModelId = model.Value.ProviderModel ?? model.Value.Id,
            Temperature = body.Temperature ?? session?.Temperature ?? assistant?.Settings.Temperature ?? 0.7,
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
            ExtraBody = ToolFields(body),
        };
        var context = Context(body, ids, assistant, model.Value, embeddingModel.Value!, prompt, settings, userId ?? caller.Subject, referenced.Length > 0);
        // Reserved when the turn starts, in the transaction that stores it (StoreTurn.StartAsync).
        var reservation = quota.For(caller, QuotaEstimate(prompt, context.Retrieval is not null && (session is not null || assistant is not null)) + maxTokens);

        return new TurnPlan(ids, new TurnOwner(userId, user.ApplicationId(), assistant?.Id), model.Value, prompt, context, settings, reservation)
        {
            TitleByModel = body.TitleByModel,
        };
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
        if (sessionId is not null) sql.AppendLine(SessionSql).AppendLine(body.Anchor is null ? "" : AnchorSql).AppendLine(HistorySql);
        if (withAssistant) sql.AppendLine(AssistantSql);
        if (body.PromptId is not null) sql.Append(PromptUsage.ReadSql).AppendLine(";");
        if (referencedDocuments.Length > 0) sql.AppendLine(VisibleDocumentsSql);
        if (sql.Length == 0) return new Lookups(null, null, [], null, null, 0);

        await using var conn = await db.OpenConnectionAsync(ct);
        await using var results = await conn.QueryMultipleAsync(new CommandDefinition(sql.ToString(), new
        {
            SessionId = sessionId, UserId = userId, GuestSessions = !ownSessionOnly, MaxHistory = chat.Value.MaxHistoryMessages,
            // The walk passes system and failed messages by: a bound, not an exact count.
            Depth = 4 * chat.Value.MaxHistoryMessages, AnchorId = body.Anchor?.MessageId, Regenerate = body.Anchor?.Regenerate ?? false,
            body.AssistantId, body.PromptId, Ids = referencedDocuments,
        }, cancellationToken: ct));
        var session = sessionId is null ? null : await results.ReadSingleOrDefaultAsync<SessionRow>();
        var anchor = sessionId is null || body.Anchor is null ? null : await results.ReadSingleOrDefaultAsync<AnchorRow>();
        var history = sessionId is null ? [] : (await results.ReadAsync<HistoryRow>()).Select(r => r.ToTurn()).ToList();
        var assistant = withAssistant ? await AssistantProfile.ReadAsync(results) : null;
        var prompt = body.PromptId is null ? null : await results.ReadSingleOrDefaultAsync<string>();
        var documents = referencedDocuments.Length > 0 ? await results.ReadSingleAsync<long>() : 0;
        return new Lookups(session, anchor, history, assistant, prompt, documents);
    }

    private static PastTurn ToPastTurn(ChatTurn turn) => turn.Role switch
    {
        "tool" => ToolAnswers([turn]),
        _ => new PastTurn(turn.Role!, turn.Text ?? "", turn.Role == "assistant" ? Calls(turn.Calls) : null, turn.ImageParts),
    };

    /// <summary>Tool calls in the stored shape (<see cref="ToolCall"/>: what the client sent may carry more, or leave out <c>type</c>).</summary>
    private static JsonElement? Calls(JsonElement? sent) => sent is { } calls
        ? JsonSerializer.SerializeToElement(calls.EnumerateArray().Select(c => new ToolCall(c.GetProperty("id").GetString()!, "function",
            new ToolFunction(c.GetProperty("function").GetProperty("name").GetString()!, c.GetProperty("function").GetProperty("arguments").GetString()!))).ToList(),
            StoreTurn.StoredJson)
        : null;

    /// <summary>Tool messages as one turn: their texts one a line, each answer with the call it answers.</summary>
    private static PastTurn ToolAnswers(IEnumerable<ChatTurn> answers)
    {
        var list = answers.Select(t => new ToolAnswer(t.ToolCallId!, t.Text ?? "")).ToList();
        return new PastTurn("tool", string.Join('\n', list.Select(a => a.Content)), JsonSerializer.SerializeToElement(list, StoreTurn.StoredJson));
    }

    /// <summary>The new turn: the user's question (with its images), or the tools' answers.</summary>
    private static PastTurn NewTurn(ChatRequest body, string userText) => body.NewTurn switch
    {
        [{ Role: "tool" }, ..] answers => ToolAnswers(answers),
        [{ ImageParts: { } parts }] => new PastTurn("user", userText, Parts: parts),
        _ => new PastTurn("user", userText),
    };

    /// <summary>Tool answers sent without the message that called them answer the branch's last stored reply.</summary>
    private static void CheckAnswersStoredCalls(IReadOnlyList<ChatTurn> answers, int first, IReadOnlyList<PastTurn> stored)
    {
        var calls = stored is [.., { Role: "assistant", ToolCalls: { } made }]
            ? made.Deserialize<List<ToolCall>>(StoreTurn.StoredJson)!.Select(c => c.Id).ToHashSet()
            : [];
        for (var i = 0; i < answers.Count; i++)
            if (!calls.Contains(answers[i].ToolCallId!))
                throw RequestValidationException.For($"messages[{first + i}].tool_call_id",
                    "Answers no tool call of the assistant message before it (the session's last reply, when messages starts with tool answers).");
    }

    /// <summary>OpenAI's tool fields, passed to the provider as they were sent (SK's own tool support would invoke kernel functions).</summary>
    private static Dictionary<string, object?>? ToolFields(ChatRequest body)
    {
        if (!body.OffersTools) return null;
        var fields = new Dictionary<string, object?> { ["tools"] = body.Tools };
        if (body.ToolChoice is { ValueKind: not JsonValueKind.Null } choice) fields["tool_choice"] = choice;
        if (body.ParallelToolCalls is { } parallel) fields["parallel_tool_calls"] = parallel;
        return fields;
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
        // The cache answers only turns whose context is the assistant's own: default retrieval, no chosen documents; and
        // never a regenerate, which asks for another answer than the one given.
        // Nor turns with tools, tool calls or images: the question's text is not all the model was asked.
        var cacheable = assistant is { Settings.CacheEnabled: true } && mode is "rag" or "none" && body.RagConfig is null && !documentsNamed
                        && body.Anchor is not { Regenerate: true } && !body.OffersTools && !prompt.BeyondText;
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
