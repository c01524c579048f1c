using ChatSlices.Infrastructure.AI;
using ChatSlices.Infrastructure.Errors;
using ChatSlices.Infrastructure.RateLimiting;
using MediatR;
using Microsoft.Extensions.Options;
using Microsoft.SemanticKernel.ChatCompletion;
using Microsoft.SemanticKernel.Connectors.OpenAI;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// One question to a chat model, answered whole and not stored: for slices that need the model without a session
/// (prompt preview). Same model lookup, daily token quota, timeouts and provider error codes as a chat turn.
/// </summary>
public static class AskModel
{
    public sealed record Query(Caller Caller, string? Model, string Text, int MaxOutputTokens) : IRequest<Outcome<Answer>>;

    public sealed record Answer(string Text, long TokensUsed, string Model);

    public sealed class Handler(ModelCatalog catalog, RunModel run, TokenQuota quota, IOptions<AiSettings> ai, ILogger<Handler> logger)
        : IRequestHandler<Query, Outcome<Answer>>
    {
        public async Task<Outcome<Answer>> Handle(Query query, CancellationToken ct)
        {
            var model = catalog.Require(query.Model ?? ai.Value.DefaultModel, ModelKind.Chat);
            if (model.Failure is { } unknown) return unknown;
            var reservation = await quota.ReserveAsync(query.Caller, TokenEstimator.CountMessage(query.Text) + query.MaxOutputTokens, ct);
            if (reservation.Failure is { } overQuota) return overQuota;

            long used = 0;
            try
            {
                var prompt = new ChatHistory();
                prompt.AddUserMessage(query.Text);
                var settings = new OpenAIPromptExecutionSettings { ModelId = model.Value!.ProviderModel ?? model.Value.Id, MaxTokens = query.MaxOutputTokens };
                var reply = await run.CompleteAsync(model.Value, prompt, settings, ct);
                var tokens = reply.Count(prompt);
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
                if (reservation.Value is { } reserved) await quota.SettleAsync(reserved, used);
            }
        }
    }
}
