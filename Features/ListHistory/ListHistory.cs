using System.Security.Claims;
using System.Text.Json;
using Carter;
using ChatSlices.Features.Sessions;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Mediation;
using Dapper;
using MediatR;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Npgsql;
using HttpJsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace ChatSlices.Features.ListHistory;

/// <summary>
/// GET /v1/chat/history: the caller's sessions, newest <c>updated_at</c> first (best match first with <c>q</c>),
/// filtered and paged, with the exact total and, unless asked not to, each one's last messages — all in one query.
/// </summary>
public sealed class ListHistory : ICarterModule
{
    /// <summary>The messages shown of each session (its last ones); older ones are paged by ListMessages.</summary>
    public const int MessagesPerSession = 10;

    public sealed record Query(
        string UserId, string? RawPage, string? RawPageSize, string? RawStartDate, string? RawEndDate, string? Model,
        string? RawAssistantId, bool IncludeArchived, string? Q, bool IncludeMessages) : IRequest<Response>, IValidated
    {
        public Guid? AssistantId => Guid.TryParse(RawAssistantId, out var id) ? id : null;
        public int Page => QueryText.Integer(RawPage) ?? 1;
        public int PageSize => QueryText.Integer(RawPageSize) ?? 10;
        public DateTime? StartDate => QueryText.DateOrDateTime(RawStartDate, endOfDay: false);
        public DateTime? EndDate => QueryText.DateOrDateTime(RawEndDate, endOfDay: true);
        public string? Search => string.IsNullOrWhiteSpace(Q) ? null : Q.Trim();

        public void Validate(ValidationErrors errors)
        {
            errors.WholeNumber(RawPage, "page");
            errors.WholeNumber(RawPageSize, "page_size");
            errors.Require(Page >= 1, "page", "Must be 1 or more.");
            errors.Range<int>(PageSize, "page_size", 1, 100);
            errors.DateTimeWindow(RawStartDate, RawEndDate);
            errors.Require(RawAssistantId is null || AssistantId is not null, "assistant_id", "Must be a UUID.");
            errors.Length(Q, "q", 0, 500);
        }
    }

    public sealed record Response(long Total, int Page, int PageSize, IReadOnlyList<SessionView> Sessions);

    /// <summary>What each row has besides the session (whose columns are null on a page beyond the end).</summary>
    private sealed record PageRow(long Total, string? Messages);

    // One statement: the matches, their count, the page, and each page session's last messages as JSON.
    // The count row is joined to the page so that a page beyond the end still reports the total.
    private const string Sql = $"""
        WITH q AS (
            SELECT query, owner_query(@UserId, query) AS owner_query
            FROM (SELECT CASE WHEN @Search::text IS NULL THEN NULL ELSE websearch_to_tsquery('simple', @Search) END AS query) q
        ), hits AS MATERIALIZED (
            -- The caller's messages with the words, from the index keyed by owner and word (migration 0011): the
            -- caller's postings only, however common the word is among all users. Another owner's messages (sharing
            -- the caller's key prefix) would not join the caller's sessions. Computed once: the generic plan must not
            -- run it again for each session.
            SELECT m.session_id, max(ts_rank(m.owner_search, q.owner_query)) AS rank
            FROM chat_messages m, q
            WHERE m.owner_search @@ q.owner_query
            GROUP BY m.session_id
        ), matched AS (
            SELECT s.*, CASE WHEN q.query IS NULL THEN 0 ELSE greatest(ts_rank(s.search, q.query), coalesce(h.rank, 0)) END AS rank
            FROM chat_sessions s CROSS JOIN q LEFT JOIN hits h ON h.session_id = s.id
            WHERE s.user_id = @UserId
              AND (@IncludeArchived OR s.archived_at IS NULL)
              AND (@StartDate::timestamptz IS NULL OR s.created_at >= @StartDate)
              AND (@EndDate::timestamptz IS NULL OR s.created_at <= @EndDate)
              AND (@Model::text IS NULL OR s.model = @Model)
              AND (@AssistantId::uuid IS NULL OR s.assistant_id = @AssistantId)
              AND (q.query IS NULL OR s.search @@ q.query OR h.session_id IS NOT NULL)
        ), page AS (
            SELECT * FROM matched ORDER BY rank DESC, updated_at DESC, id DESC OFFSET @Offset LIMIT @PageSize
        )
        SELECT t.total, CASE WHEN @IncludeMessages AND s.id IS NOT NULL THEN {SessionViews.LastMessagesJson} END AS messages,
               {SessionViews.SessionColumns}
        FROM (SELECT count(*) AS total FROM matched) t
        LEFT JOIN page s ON true
        ORDER BY s.rank DESC, s.updated_at DESC, s.id DESC
        """;

    public sealed class Handler(NpgsqlDataSource db, IOptions<HttpJsonOptions> json) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            var rows = (await conn.QueryAsync<PageRow, SessionView?, (PageRow Page, SessionView? Session)>(new CommandDefinition(Sql, new
            {
                query.UserId, query.IncludeArchived, query.StartDate, query.EndDate, query.Model, query.AssistantId,
                query.Search, query.IncludeMessages, Offset = (long)(query.Page - 1) * query.PageSize, query.PageSize,
                Depth = MessagesPerSession + 1,
            }, cancellationToken: ct), (page, session) => (page, session), splitOn: "id")).AsList();
            var sessions = rows.Where(r => r.Session is not null).Select(r => r.Page.Messages is null
                ? r.Session!
                : r.Session!.WithLastMessages(JsonSerializer.Deserialize<List<MessageView>>(r.Page.Messages, json.Value.SerializerOptions)!, MessagesPerSession)
            ).ToList();
            return new Response(rows[0].Page.Total, query.Page, query.PageSize, sessions);
        }
    }

    public void AddRoutes(IEndpointRouteBuilder app) =>
        app.MapGroup("/v1/chat/history").WithTags("Sessions").RequireAuthorization(AuthSetup.UserPolicy)
            .MapGet("", Endpoint)
            .WithName("ListHistory")
            .WithSummary("The caller's sessions: filtered, searched (q: titles and message text), paged, newest first")
            .ProducesValidationProblem(StatusCodes.Status422UnprocessableEntity);

    private static async Task<Ok<Response>> Endpoint(ClaimsPrincipal user, IMediator mediator, CancellationToken ct,
        [FromQuery] string? page = null, [FromQuery(Name = "page_size")] string? pageSize = null,
        [FromQuery(Name = "start_date")] string? startDate = null, [FromQuery(Name = "end_date")] string? endDate = null,
        [FromQuery] string? model = null, [FromQuery(Name = "assistant_id")] string? assistantId = null,
        [FromQuery(Name = "include_archived")] bool includeArchived = false, [FromQuery] string? q = null,
        [FromQuery(Name = "include_messages")] bool includeMessages = true) =>
        TypedResults.Ok(await mediator.Send(new Query(user.RequiredUserId(), page, pageSize, startDate, endDate, model,
            assistantId, includeArchived, q, includeMessages), ct));
}
