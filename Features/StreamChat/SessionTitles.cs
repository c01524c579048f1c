using System.Threading.Channels;
using ChatSlices.Infrastructure;
using ChatSlices.Infrastructure.AI;
using Dapper;
using Microsoft.Extensions.Options;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.Connectors.OpenAI;
using Npgsql;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// With <c>Chat:GenerateTitles</c>, a session's title is written by its model after the first reply (in the background:
/// the turn's <c>done</c> does not wait), instead of the first 60 characters of the question. A title the user set is
/// never replaced, and sessions of <c>/v1/chat/completions</c> are not titled (<see cref="ChatRequest.TitleByModel"/>).
/// The call is in the caller's usage (kind <c>title</c>) and daily quota. The offline <c>local</c> models are not asked:
/// they would only echo the question. At most <see cref="Queued"/> wait; more keep their title.
/// </summary>
public sealed class SessionTitles(NpgsqlDataSource db, RunModel model, ModelProviders providers, IOptions<ChatSettings> settings, ILogger<SessionTitles> logger)
    : BackgroundService
{
    private const int Queued = 100;
    private const int MaxReplyChars = 2_000;

    private const string Instruction =
        "Write a short title (at most six words) for the conversation below, in its language. Answer with the title only: no quotes, no final period.";

    public sealed record Request(TurnPlan Plan, string Reply);

    private readonly Channel<Request> _requests = Channel.CreateBounded<Request>(new BoundedChannelOptions(Queued) { FullMode = BoundedChannelFullMode.DropWrite });

    // The title, and what it cost in the ledger and the day's quota, only while the title is not the user's.
    private const string TitleSql = """
        WITH titled AS (UPDATE chat_sessions SET title = @Title WHERE id = @SessionId AND NOT title_by_user RETURNING id),
        ledger AS (
            INSERT INTO usage_ledger (user_id, kind, model, prompt_tokens, completion_tokens, cost, estimated, session_id)
            SELECT @UserId, 'title', @Model, @PromptTokens, @CompletionTokens, @Cost, @Estimated, @SessionId FROM titled WHERE @UserId::text IS NOT NULL
        )
        UPDATE usage_daily SET tokens = tokens + @PromptTokens + @CompletionTokens
        WHERE subject = @Subject AND day = @Day AND EXISTS (SELECT 1 FROM titled)
        """;

    /// <summary>After a turn's reply is stored: a title is asked for when this was the session's first reply.</summary>
    public void AfterReply(TurnPlan plan, string reply)
    {
        var firstReply = plan.TitleByModel && plan.Ids.ParentId is null && !plan.Ids.UserTurnStored;
        if (firstReply && settings.Value.GenerateTitles && providers.ProviderOf(plan.Model) != "local" && reply.Length > 0)
            _requests.Writer.TryWrite(new Request(plan, reply));
    }

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        await foreach (var request in _requests.Reader.ReadAllAsync(stopping))
        {
            try
            {
                await TitleAsync(request, stopping);
            }
            catch (Exception e) when (!stopping.IsCancellationRequested)
            {
                logger.LogWarning(e, "No title was generated for session {SessionId}; it keeps the question's first words", request.Plan.Ids.SessionId);
            }
        }
    }

    private async Task TitleAsync(Request request, CancellationToken ct)
    {
        var plan = request.Plan;
        var prompt = new ChatHistory(Instruction);
        var reply = request.Reply.Length > MaxReplyChars ? request.Reply[..MaxReplyChars] : request.Reply;
        prompt.AddUserMessage($"User: {plan.Prompt.UserText}\n\nAssistant: {reply}");
        var asked = new OpenAIPromptExecutionSettings { ModelId = plan.Model.ProviderModel ?? plan.Model.Id, Temperature = 0.2, MaxTokens = 20 };
        var answer = await model.CompleteAsync(plan.Model, prompt, asked, ct);
        if (answer.Failure is { } failure)
        {
            logger.LogWarning("No title was generated for session {SessionId}: {Code}", plan.Ids.SessionId, failure.Code);
            return;
        }
        if (Clean(answer.Text.ToString()) is not { } title) return;
        var tokens = answer.Count(prompt, plan.Model.Tokens());
        await using var conn = await db.OpenConnectionAsync(ct);
        await conn.ExecuteAsync(new CommandDefinition(TitleSql, new
        {
            Title = title, plan.Ids.SessionId, plan.Owner.UserId, Model = plan.Model.Id, PromptTokens = tokens.Prompt, CompletionTokens = tokens.Completion,
            Cost = plan.Model.Cost(tokens.Prompt, tokens.Completion), tokens.Estimated, plan.Reservation?.Subject, plan.Reservation?.Day,
        }, cancellationToken: ct));
    }

    /// <summary>The model's answer as a title: one line, without quotes or a final period, at most 60 characters; null if nothing is left.</summary>
    internal static string? Clean(string answer)
    {
        var line = answer.Trim().Split('\n')[0].CollapseWhitespace().Trim();
        if (line.StartsWith("Title:", StringComparison.OrdinalIgnoreCase)) line = line["Title:".Length..];
        line = line.Trim().Trim('"', '\'', '“', '”', '«', '»', '*', '#', ' ').TrimEnd('.').Trim();
        return line.Length == 0 ? null : line.Shorten(TurnPrompt.MaxTitleChars);
    }
}
