using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.RateLimiting;
using ChatSlices.Infrastructure.Usage;
using MediatR;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.Connectors.OpenAI;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// One question to a chat model, answered whole and not stored: for slices that need the model without a session
/// (prompt preview). Same model lookup, daily token quota, timeouts and provider error codes as a chat turn; what the
/// call spent goes into the usage ledger as the query's <c>UsageKind</c>, in the report of its <c>UserId</c>.
/// </summary>
public static class AskModel
{
    /// <param name="UserId">Whose usage report shows the call (null: a guest's, shown in none).</param>
    /// <param name="UsageKind">What the ledger calls the call (<see cref="Infrastructure.Usage.UsageKind"/>).</param>
    public sealed record Query(Caller Caller, string? UserId, string? Model, string Text, int MaxOutputTokens, string UsageKind)
        : IRequest<Outcome<Answer>>;

    public sealed record Answer(string Text, long TokensUsed, string Model);

    public sealed class Handler(ModelCatalog catalog, RunModel run, TokenQuota quota, UsageLedger ledger, ILogger<Handler> logger)
        : IRequestHandler<Query, Outcome<Answer>>
    {
        public async Task<Outcome<Answer>> Handle(Query query, CancellationToken ct)
        {
            var model = catalog.Require(query.Model ?? catalog.DefaultChatModel, ModelKind.Chat);
            if (model.Failure is { } unknown) return unknown;
            var reservation = await quota.ReserveAsync(query.Caller, model.Value!.Tokens().CountMessage(query.Text) + query.MaxOutputTokens, ct);
            if (reservation.Failure is { } overQuota) return overQuota;

            long used = 0;
            TokenCount? spent = null;
            try
            {
                var prompt = new ChatHistory();
                prompt.AddUserMessage(query.Text);
                var settings = new OpenAIPromptExecutionSettings { ModelId = model.Value!.ProviderModel ?? model.Value.Id, MaxTokens = query.MaxOutputTokens };
                var reply = await run.CompleteAsync(model.Value, prompt, settings, ct);
                var tokens = reply.Count(prompt, model.Value.Tokens());
                spent = tokens;
                used = tokens.Prompt + tokens.Completion;
                if (reply.Failure is { } failed)
                {
                    logger.LogWarning("A model call on {Model} failed: {Code}", model.Value.Id, failed.Code);
                    return new Failure(failed.HttpStatus, failed.Message, failed.Code);
                }
                return new Answer(reply.Text.ToString(), used, model.Value.Id);
            }
            finally
            {
                // The ledger row and the quota's settlement in one round trip; a call that spent nothing only settles.
                if (spent is { } tokens && used > 0)
                    await ledger.RecordAsync(new UsageEntry(query.UserId, query.UsageKind, model.Value!.Id, tokens.Prompt, tokens.Completion,
                        model.Value.Cost(tokens.Prompt, tokens.Completion), tokens.Estimated), reservation.Value, used);
                else if (reservation.Value is { } reserved) await quota.SettleAsync(reserved, used);
            }
        }
    }
}
