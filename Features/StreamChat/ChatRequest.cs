using System.Text.Json;
using System.Text.Json.Serialization;
using ChatSlices.Infrastructure.Http;
using ChatSlices.Infrastructure.Mediation;

namespace ChatSlices.Features.StreamChat;

public sealed record RagSource(string? Name, string? ModelName, int? Limit, double? SimilarityThreshold, double? Weight,
    Dictionary<string, JsonElement>? MetadataFilters);

public sealed record RagConfig(List<RagSource>? Sources, string? RetrievalStrategy, int? MaxTotalResults);

public sealed record Attachment(Guid? DocumentId, string? Title, int? MaxTokens, bool? IncludeFullContent);

public sealed record AttachmentConfig(List<Attachment>? Attachments);

/// <summary>
/// A turn placed beside a stored one: a new reply to stored user turn <paramref name="MessageId"/> (or to the user turn of
/// reply <paramref name="MessageId"/>) when <paramref name="Regenerate"/>, else a new version of user turn <paramref name="MessageId"/>.
/// </summary>
public sealed record TurnAnchor(Guid MessageId, bool Regenerate);

/// <summary>OpenAI's <c>response_format</c>: <c>text</c>, <c>json_object</c>, or <c>json_schema</c> with its schema.</summary>
public sealed record ResponseFormat(string? Type, JsonElement? JsonSchema);

/// <summary>The body of <c>POST /v1/chat/stream</c>, exactly as API.md names its fields (aliases included).</summary>
public sealed record ChatRequest(
    List<ChatTurn>? Messages = null,
    string? Query = null,
    List<ChatTurn>? History = null,
    Guid? SessionId = null,
    Guid? ConversationId = null,
    Guid? AssistantId = null,
    string? Model = null,
    string? LlmModel = null,
    string? SystemPrompt = null,
    double? Temperature = null,
    int? MaxTokens = null,
    string? ContextMode = null,
    RagConfig? RagConfig = null,
    AttachmentConfig? AttachmentConfig = null,
    List<Guid>? DocumentIds = null,
    string? EmbeddingModel = null,
    string? StreamFormat = null,
    bool? Stream = null,
    Guid? PromptId = null,
    Dictionary<string, System.Text.Json.JsonElement>? PromptVariables = null,
    double? TopP = null,
    JsonElement? Stop = null,
    long? Seed = null,
    double? PresencePenalty = null,
    double? FrequencyPenalty = null,
    Dictionary<string, int>? LogitBias = null,
    ResponseFormat? ResponseFormat = null,
    int? N = null,
    string? User = null,
    JsonElement? Tools = null,
    JsonElement? ToolChoice = null,
    bool? ParallelToolCalls = null)
{
    public const int MaxQueryChars = 10_000;
    public const int MaxHistoryItems = 50;
    public const int MaxSystemPromptChars = 20_000;
    /// <summary>An earlier turn the client resends (an OpenAI-style client sends the whole conversation each time).</summary>
    public const int MaxTurnChars = 100_000;
    public const int MaxRagSources = 10;

    public static readonly string[] ContextModes = ["rag", "attachment", "hybrid", "document", "none"];
    public static readonly string[] StreamFormats = ["events", "tokens"];
    public static readonly string[] Strategies = ["merge", "sequential", "ensemble"];

    public const int MaxStopSequences = 4;
    public static readonly string[] ResponseFormats = ["text", "json_object", "json_schema"];

    public Guid? EffectiveSessionId => SessionId ?? ConversationId;

    /// <summary>The stored turn this one regenerates or edits (the session's routes set it; no JSON field).</summary>
    [JsonIgnore]
    public TurnAnchor? Anchor { get; init; }

    /// <summary>
    /// A new session may be titled by its model (<see cref="SessionTitles"/>). Not from <c>/v1/chat/completions</c>:
    /// OpenAI-style clients resend the conversation and start a session with nearly every call, so each would pay twice.
    /// </summary>
    [JsonIgnore]
    public bool TitleByModel { get; init; } = true;

    /// <summary><c>stop</c> as a list: one string, or up to four.</summary>
    public IReadOnlyList<string>? StopSequences => StorableJson.OneOrMany(Stop);
    public string? EffectiveModel => Model ?? LlmModel;

    /// <summary>
    /// Where the new turn starts in <c>messages</c>: the last message when it is the user's, else the tool answers that
    /// end the list (the results of the tool calls the model made last).
    /// </summary>
    private int NewTurnStart
    {
        get
        {
            if (Messages is not { Count: > 0 }) return 0;
            var start = Messages.Count - 1;
            while (start > 0 && Messages[start]?.Role == "tool" && Messages[start - 1]?.Role == "tool") start--;
            return start;
        }
    }

    /// <summary>The new turn as <c>messages</c> sends it: the user's message, or the tool answers that end the list.</summary>
    public IReadOnlyList<ChatTurn> NewTurn => Messages is { Count: > 0 } ? Messages[NewTurnStart..] : [];

    /// <summary>The new turn's text: the last user message (or its tool answers, one a line), or <c>query</c>.</summary>
    public string UserTurn => Messages is { Count: > 0 } ? string.Join('\n', NewTurn.Select(t => t?.Text ?? "")) : Query ?? "";

    /// <summary>Tools were offered to the model (an empty list offers none).</summary>
    public bool OffersTools => Tools is { ValueKind: JsonValueKind.Array } tools && tools.GetArrayLength() > 0;

    /// <summary>prompt_variables as text: strings as they are, other JSON values as their JSON; null counts as missing.</summary>
    public IReadOnlyDictionary<string, string> PromptVariableTexts =>
        (PromptVariables ?? []).Where(v => v.Value.ValueKind != System.Text.Json.JsonValueKind.Null)
            .ToDictionary(v => v.Key, v => v.Value.ValueKind == System.Text.Json.JsonValueKind.String ? v.Value.GetString()! : v.Value.GetRawText());

    /// <summary>Earlier turns the client sent (<c>messages</c> before the new turn, or <c>history</c>), system turns excluded.</summary>
    public IEnumerable<ChatTurn> EarlierTurns =>
        (Messages is { Count: > 0 } ? Messages.Take(NewTurnStart) : History ?? []).Where(t => !t.IsSystem);

    /// <summary>A system turn in <c>messages</c> or <c>history</c> acts as <c>system_prompt</c> when that is not given.</summary>
    public string? EffectiveSystemPrompt =>
        SystemPrompt ?? (Messages ?? History)?.LastOrDefault(t => t is not null && t.IsSystem)?.Text;

    public void Validate(ValidationErrors errors)
    {
        if (PromptId is not null && (Messages is not null || Query is not null))
            errors.Add("prompt_id", "prompt_id (with prompt_variables) builds the user turn: send it without query or messages.");
        if (PromptId is null && Messages is null && Query is null && Anchor is not { Regenerate: true })
            errors.Add("query", "Send either messages or query (or prompt_id).");
        if (Messages is not null && Query is not null) errors.Add("messages", "Send either messages or query, not both.");
        if (SessionId is not null && ConversationId is not null && SessionId != ConversationId)
            errors.Add("conversation_id", "conversation_id is an alias of session_id; they differ.");
        if (Model is not null && LlmModel is not null && Model != LlmModel)
            errors.Add("llm_model", "llm_model is an alias of model; they differ.");

        errors.Length(Query, "query", 1, MaxQueryChars);
        if (Messages is not null)
        {
            if (Messages.Count == 0) errors.Add("messages", "Must hold at least the new user turn.");
            else if (Messages.Count > MaxHistoryItems + 1) errors.Add("messages", $"At most {MaxHistoryItems + 1} messages.");
            else if (Messages[^1]?.Role is not ("user" or "tool"))
                errors.Add("messages", "The last message must be the new turn: the user's message, or the answers of the tools the model called (role tool).");
            ValidateTurns(Messages, "messages", errors);
            if (Messages.Count > 0 && Messages[^1]?.Role == "user") errors.Length(Messages[^1]?.Text, "messages", 0, MaxQueryChars);
            ToolCallShapes.ValidateAnswers(Messages, "messages", errors);
        }
        if (History is not null)
        {
            if (History.Count > MaxHistoryItems) errors.Add("history", $"At most {MaxHistoryItems} items.");
            ValidateTurns(History, "history", errors);
            ToolCallShapes.ValidateAnswers(History, "history", errors);
        }

        errors.Length(SystemPrompt, "system_prompt", 1, MaxSystemPromptChars);
        errors.Range(Temperature, "temperature", 0.0, 2.0);
        ValidateSampling(errors);
        ToolCallShapes.ValidateOffer(this, errors);
        errors.Range(MaxTokens, "max_tokens", 1, 8192);
        errors.Require(ContextMode is null || ContextModes.Contains(ContextMode), "context_mode", "Must be one of: " + string.Join(", ", ContextModes) + ".");
        errors.Require(StreamFormat is null || StreamFormats.Contains(StreamFormat), "stream_format", "Must be events or tokens.");
        errors.Require(DocumentIds is null || DocumentIds.Count <= 20, "document_ids", "At most 20 documents.");
        errors.Length(EmbeddingModel, "embedding_model", 1, 200);
        if (RagConfig is not null) ValidateRag(RagConfig, errors);
        errors.Require(PromptVariables is null || PromptVariables.Values.All(StorableJson.IsStorable), "prompt_variables",
            StorableJson.Problem);
        foreach (var (name, text) in PromptVariableTexts)
            errors.Require(text.Length <= MaxQueryChars, $"prompt_variables.{name}", $"Must be at most {MaxQueryChars} characters.");
        if (AttachmentConfig?.Attachments is { } attachments)
        {
            errors.Require(attachments.Count <= 20, "attachment_config.attachments", "At most 20 attachments.");
            for (var i = 0; i < attachments.Count; i++)
            {
                if (attachments[i] is null) { errors.Add($"attachment_config.attachments[{i}]", "Must be an object."); continue; }
                errors.Require(attachments[i].DocumentId is not null, $"attachment_config.attachments[{i}].document_id", "Required.");
                errors.Range(attachments[i].MaxTokens, $"attachment_config.attachments[{i}].max_tokens", 1, 100_000);
            }
        }
    }

    /// <summary>The OpenAI sampling and format fields, with OpenAI's own bounds.</summary>
    private void ValidateSampling(ValidationErrors errors)
    {
        errors.Range(TopP, "top_p", 0.0, 1.0);
        errors.Range(PresencePenalty, "presence_penalty", -2.0, 2.0);
        errors.Range(FrequencyPenalty, "frequency_penalty", -2.0, 2.0);
        errors.Require(N is null or 1, "n", "Only one reply per turn: n must be 1.");
        errors.Length(User, "user", 1, 256);
        errors.Require(Stop is null || Stop.Value.ValueKind is JsonValueKind.Null or JsonValueKind.String or JsonValueKind.Array, "stop",
            "Must be a string or an array of strings.");
        errors.Require(Stop is null || StorableJson.IsStorable(Stop.Value), "stop", StorableJson.Problem);
        errors.Require(ResponseFormat?.JsonSchema is not { } schema || StorableJson.IsStorable(schema), "response_format.json_schema", StorableJson.Problem);
        if ((Stop is null || StorableJson.IsStorable(Stop.Value)) && StopSequences is { } stops)
            errors.Require(stops.Count <= MaxStopSequences && stops.All(s => s.Length is > 0 and <= 200), "stop",
                $"At most {MaxStopSequences} sequences, each 1 to 200 characters.");
        if (LogitBias is not null)
        {
            errors.Require(LogitBias.Count <= 300, "logit_bias", "At most 300 tokens.");
            errors.Require(LogitBias.Keys.All(k => int.TryParse(k, System.Globalization.NumberStyles.None, null, out _)), "logit_bias", "Keys must be token ids (whole numbers).");
            errors.Require(LogitBias.Values.All(v => v is >= -100 and <= 100), "logit_bias", "Biases must be between -100 and 100.");
        }
        if (ResponseFormat is not null)
        {
            errors.Require(ResponseFormat.Type is { } type && ResponseFormats.Contains(type), "response_format.type", "Must be text, json_object or json_schema.");
            errors.Require(ResponseFormat.Type != "json_schema" || ResponseFormat.JsonSchema is { ValueKind: JsonValueKind.Object },
                "response_format.json_schema", "json_schema needs its object (name and schema).");
        }
    }

    private static void ValidateTurns(List<ChatTurn> turns, string field, ValidationErrors errors)
    {
        for (var i = 0; i < turns.Count; i++)
        {
            if (turns[i] is null) { errors.Add($"{field}[{i}]", "Must be an object with role and content."); continue; }
            turns[i].Validate($"{field}[{i}]", turns[i].IsSystem ? MaxSystemPromptChars : MaxTurnChars, errors);
        }
    }

    private static void ValidateRag(RagConfig rag, ValidationErrors errors)
    {
        errors.Require(rag.RetrievalStrategy is null || Strategies.Contains(rag.RetrievalStrategy),
            "rag_config.retrieval_strategy", "Must be merge, sequential or ensemble.");
        errors.Range(rag.MaxTotalResults, "rag_config.max_total_results", 1, 50);
        if (rag.Sources is { Count: > MaxRagSources })
        {
            errors.Add("rag_config.sources", $"At most {MaxRagSources} sources.");
            return;
        }
        for (var i = 0; i < (rag.Sources?.Count ?? 0); i++)
        {
            var source = rag.Sources![i];
            var at = $"rag_config.sources[{i}]";
            if (source is null) { errors.Add(at, "Must be an object."); continue; }
            errors.Require(source.MetadataFilters is null || source.MetadataFilters.All(f => StorableJson.IsStorable(f.Key) && StorableJson.IsStorable(f.Value)),
                at + ".metadata_filters", StorableJson.Problem);
            errors.Require(!string.IsNullOrWhiteSpace(source.Name), at + ".name", "Required.");
            errors.Range(source.Limit, at + ".limit", 1, 50);
            errors.Range(source.SimilarityThreshold, at + ".similarity_threshold", -1.0, 1.0);
            errors.Range(source.Weight, at + ".weight", 0.0, 2.0);
        }
    }
}
