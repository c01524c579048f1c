using System.Security.Claims;
using Carter;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Mediation;
using Dapper;
using MediatR;
using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace ChatSlices.Features.TokenUsage;

/// <summary>
/// GET /v1/tokens/usage?start_date&amp;end_date: the caller's tokens and cost from the usage ledger (chat replies, prompt
/// previews, the embeddings of their uploads; kept when sessions and files are deleted): totals, per model, per kind and
/// per UTC day (days without use omitted). Dates are inclusive UTC days; by default the last 30 days.
/// </summary>
public sealed class GetTokenUsage : ICarterModule
{
    public const int DefaultDays = 30;

    public sealed record Query(string UserId, string? RawStartDate, string? RawEndDate, DateOnly Today) : IRequest<Response>, IValidated
    {
        public DateOnly EndDate => QueryText.Date(RawEndDate) ?? Today;
        public DateOnly StartDate => QueryText.Date(RawStartDate) ?? EndDate.AddDays(1 - DefaultDays);

        public void Validate(ValidationErrors errors)
        {
            errors.Require(RawStartDate is null || QueryText.Date(RawStartDate) is not null, "start_date", "Must be a date (YYYY-MM-DD).");
            errors.Require(RawEndDate is null || QueryText.Date(RawEndDate) is not null, "end_date", "Must be a date (YYYY-MM-DD).");
            errors.DateInRange(QueryText.Date(RawStartDate), "start_date");
            errors.DateInRange(QueryText.Date(RawEndDate), "end_date");
            if (errors.Any) return; // the window (a default start, the day after the end) is reckoned only from dates in range
            errors.Require(StartDate <= EndDate, "end_date", "Must not be before start_date.");
            errors.Require(EndDate.DayNumber - StartDate.DayNumber < 3660, "start_date", "The range may span at most ten years.");
        }
    }

    public sealed record ModelUsage(string Model, long PromptTokens, long CompletionTokens, decimal Cost);

    /// <summary>Use of one kind: <c>chat</c> (stored replies), <c>preview</c> (prompt previews), <c>embedding</c> (uploads' text).</summary>
    public sealed record KindUsage(string Kind, long PromptTokens, long CompletionTokens, decimal Cost);

    /// <summary><see cref="Messages"/>: the stored replies of the day.</summary>
    public sealed record DayUsage(DateOnly Date, long PromptTokens, long CompletionTokens, long TotalTokens, decimal Cost, long Messages);

    public sealed record Response(DateOnly StartDate, DateOnly EndDate, long PromptTokens, long CompletionTokens, long TotalTokens, decimal Cost,
        IReadOnlyList<ModelUsage> ByModel, IReadOnlyList<KindUsage> ByKind, IReadOnlyList<DayUsage> Daily);

    // One pass over the caller's ledger rows (an index-only scan), four groupings: the total, per model, per kind, per UTC day.
    private const string Sql = """
        SELECT GROUPING(l.model) = 0 AS by_model_flag, GROUPING(l.kind) = 0 AS by_kind_flag,
               GROUPING((l.created_at AT TIME ZONE 'UTC')::date) = 0 AS by_day_flag,
               l.model, l.kind, (l.created_at AT TIME ZONE 'UTC')::date::timestamp AS day,
               coalesce(sum(l.prompt_tokens), 0)::bigint AS prompt_tokens, coalesce(sum(l.completion_tokens), 0)::bigint AS completion_tokens,
               coalesce(sum(l.cost), 0) AS cost, count(*) FILTER (WHERE l.kind = 'chat') AS messages
        FROM usage_ledger l
        WHERE l.user_id = @UserId AND l.created_at >= @From AND l.created_at < @Until
        GROUP BY GROUPING SETS ((), (l.model), (l.kind), ((l.created_at AT TIME ZONE 'UTC')::date))
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, Response>
    {
        private sealed record Grouped(bool ByModelFlag, bool ByKindFlag, bool ByDayFlag, string? Model, string? Kind, DateTime? Day,
            long PromptTokens, long CompletionTokens, decimal Cost, long Messages);

        public async Task<Response> Handle(Query query, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            var rows = (await conn.QueryAsync<Grouped>(new CommandDefinition(Sql, new
            {
                query.UserId,
                From = query.StartDate.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc),
                Until = query.EndDate.AddDays(1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc),
            }, cancellationToken: ct))).AsList();

            var total = rows.Single(r => !r.ByModelFlag && !r.ByKindFlag && !r.ByDayFlag);
            return new Response(query.StartDate, query.EndDate, total.PromptTokens, total.CompletionTokens,
                total.PromptTokens + total.CompletionTokens, total.Cost,
                rows.Where(r => r.ByModelFlag).OrderByDescending(r => r.Cost).ThenBy(r => r.Model)
                    .Select(r => new ModelUsage(r.Model!, r.PromptTokens, r.CompletionTokens, r.Cost)).ToList(),
                rows.Where(r => r.ByKindFlag).OrderByDescending(r => r.Cost).ThenBy(r => r.Kind)
                    .Select(r => new KindUsage(r.Kind!, r.PromptTokens, r.CompletionTokens, r.Cost)).ToList(),
                rows.Where(r => r.ByDayFlag).OrderBy(r => r.Day)
                    .Select(r => new DayUsage(DateOnly.FromDateTime(r.Day!.Value), r.PromptTokens, r.CompletionTokens,
                        r.PromptTokens + r.CompletionTokens, r.Cost, r.Messages)).ToList());
        }
    }

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapGroup("/v1/tokens").WithTags("Usage").RequireAuthorization(AuthSetup.UserPolicy)
            .MapGet("/usage", Endpoint)
            .WithName("GetTokenUsage")
            .WithSummary("The caller's token use and cost: totals, per model, per kind and per UTC day")
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);

    private static async Task<Ok<Response>> Endpoint(ClaimsPrincipal user, IMediator mediator, TimeProvider clock, CancellationToken ct,
        [FromQuery(Name = "start_date")] string? startDate = null, [FromQuery(Name = "end_date")] string? endDate = null) =>
        TypedResults.Ok(await mediator.Send(new Query(user.RequiredUserId(), startDate, endDate, DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime)), ct));
}
