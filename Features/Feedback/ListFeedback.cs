using ChatSlices.Infrastructure.Mediation;
using Dapper;
using MediatR;
using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace ChatSlices.Features.Feedback;

/// <summary>
/// GET /v1/admin/feedback?assistant_id&amp;model&amp;rating&amp;start_date&amp;end_date&amp;skip&amp;limit (admin): the ratings
/// users gave replies, last given first, with the exact total — what an assistant's owner reads to see how it does.
/// </summary>
public static class ListFeedback
{
    public sealed record Query(string? RawAssistantId, string? Model, string? Rating, string? RawStartDate, string? RawEndDate, SkipLimit Page)
        : IRequest<Response>, IValidated
    {
        public Guid? AssistantId => Guid.TryParse(RawAssistantId, out var id) ? id : null;
        public DateTime? StartDate => QueryText.DateOrDateTime(RawStartDate, endOfDay: false);
        public DateTime? EndDate => QueryText.DateOrDateTime(RawEndDate, endOfDay: true);

        public void Validate(ValidationErrors errors)
        {
            Page.Validate(errors);
            errors.Require(RawAssistantId is null || AssistantId is not null, "assistant_id", "Must be a UUID.");
            errors.Require(Rating is null || FeedbackView.Ratings.Contains(Rating), "rating", "Must be \"up\" or \"down\".");
            errors.Length(Model, "model", 1, 200);
            errors.DateTimeWindow(RawStartDate, RawEndDate);
        }
    }

    /// <summary>One rating with who gave it (<see cref="UserName"/>, <see cref="UserEmail"/> as their token last said).</summary>
    public sealed record Item(
        Guid MessageId, Guid SessionId, Guid? AssistantId, string? Model, string Rating, string? Comment,
        string UserId, string? UserName, string? UserEmail, DateTime CreatedAt, DateTime UpdatedAt);

    public sealed record Response(long Total, IReadOnlyList<Item> Items);

    // The filters and the order are on message_feedback's own columns, each with its index (migration 0016).
    private const string Filter = """
        (@AssistantId::uuid IS NULL OR f.assistant_id = @AssistantId)
        AND (@Model::text IS NULL OR f.model = @Model)
        AND (@Rating::text IS NULL OR f.rating = @Rating)
        AND (@StartDate::timestamptz IS NULL OR f.updated_at >= @StartDate)
        AND (@EndDate::timestamptz IS NULL OR f.updated_at <= @EndDate)
        """;

    private const string Sql = $"""
        SELECT count(*) FROM message_feedback f WHERE {Filter};
        SELECT f.message_id, f.session_id, f.assistant_id, f.model, f.rating, f.comment,
               f.user_id, u.name AS user_name, u.email AS user_email, f.created_at, f.updated_at
        FROM message_feedback f JOIN users u ON u.id = f.user_id
        WHERE {Filter}
        ORDER BY f.updated_at DESC, f.message_id, f.user_id
        OFFSET @Skip LIMIT @Limit;
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            await using var results = await conn.QueryMultipleAsync(new CommandDefinition(Sql, new
            {
                query.AssistantId, query.Model, query.Rating, query.StartDate, query.EndDate, query.Page.Skip, query.Page.Limit,
            }, cancellationToken: ct));
            var total = await results.ReadSingleAsync<long>();
            return new Response(total, (await results.ReadAsync<Item>()).AsList());
        }
    }

    public static async Task<Ok<Response>> Endpoint(IMediator mediator, CancellationToken ct,
        [FromQuery(Name = "assistant_id")] string? assistantId = null, [FromQuery] string? model = null, [FromQuery] string? rating = null,
        [FromQuery(Name = "start_date")] string? startDate = null, [FromQuery(Name = "end_date")] string? endDate = null,
        [FromQuery] string? skip = null, [FromQuery] string? limit = null) =>
        TypedResults.Ok(await mediator.Send(new Query(assistantId, model, rating, startDate, endDate,
            new SkipLimit(skip, limit, DefaultLimit: 100, MaxLimit: 1000)), ct));
}
