using System.Security.Claims;
using System.Text.Json;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Mediation;
using Dapper;
using MediatR;
using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace ChatSlices.Features.Prompts;

/// <summary>
/// GET /v1/prompts: the caller's prompts and (unless <c>include_templates=false</c>) the templates, newest <c>updated_at</c>
/// first, filtered by <c>scenario</c> (exact), <c>tag</c> (an element of <c>metadata.tags</c>, exact) and <c>search</c>
/// (case-insensitive substring of title, content or description), paged with the exact total — all in one query.
/// </summary>
public static class ListPrompts
{
    public sealed record Query(
        string UserId, string? Scenario, string? RawIncludeTemplates, string? Search, string? Tag, string? RawPage, string? RawPageSize)
        : IRequest<Response>, IValidated
    {
        public bool? IncludeTemplates => RawIncludeTemplates?.Trim().ToLowerInvariant() switch
        {
            null => true,
            "true" or "1" => true,
            "false" or "0" => false,
            _ => null,
        };

        public int Page => QueryText.Integer(RawPage) ?? 1;
        public int PageSize => QueryText.Integer(RawPageSize) ?? 20;

        public void Validate(ValidationErrors errors)
        {
            errors.Require(IncludeTemplates is not null, "include_templates", "Must be true or false.");
            errors.WholeNumber(RawPage, "page");
            errors.WholeNumber(RawPageSize, "page_size");
            errors.Require(Page >= 1, "page", "Must be 1 or more.");
            errors.Range<int>(PageSize, "page_size", 1, 100);
            errors.Length(Scenario, "scenario", 0, PromptFields.MaxScenario);
            errors.Length(Search, "search", 0, 200);
            errors.Length(Tag, "tag", 0, 100);
        }
    }

    public sealed record Response(IReadOnlyList<PromptView> Items, long Total, int Page, int PageSize);

    // The count row is joined to the page so that a page beyond the end still reports the total.
    // search_text is trigram-indexed (ILIKE), metadata has a jsonb_path_ops index (@>).
    private const string Sql = $"""
        WITH matched AS (
            SELECT p.id, p.updated_at FROM prompts p
            WHERE (p.owner_id = @UserId OR (@IncludeTemplates AND p.is_template))
              AND (@Scenario::text IS NULL OR p.scenario = @Scenario)
              AND (@Pattern::text IS NULL OR p.search_text ILIKE @Pattern)
              AND (@TagFilter::jsonb IS NULL OR p.metadata @> @TagFilter::jsonb)
        ), page AS (
            SELECT id FROM matched ORDER BY updated_at DESC, id DESC OFFSET @Offset LIMIT @PageSize
        )
        SELECT t.total, {PromptView.Columns}
        FROM (SELECT count(*) AS total FROM matched) t
        LEFT JOIN (page JOIN prompts p ON p.id = page.id) ON true
        ORDER BY p.updated_at DESC, p.id DESC
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            // Split at id: the page's columns are all null on the count row of an empty page, and Dapper maps those to null.
            var rows = (await conn.QueryAsync<long, PromptView?, (long Total, PromptView? Prompt)>(new CommandDefinition(Sql, new
            {
                query.UserId,
                IncludeTemplates = query.IncludeTemplates!.Value,
                Scenario = string.IsNullOrWhiteSpace(query.Scenario) ? null : query.Scenario.Trim(),
                Pattern = string.IsNullOrWhiteSpace(query.Search) ? null : "%" + EscapeLike(query.Search.Trim()) + "%",
                TagFilter = string.IsNullOrWhiteSpace(query.Tag) ? null : JsonSerializer.Serialize(new { tags = new[] { query.Tag.Trim() } }),
                Offset = (long)(query.Page - 1) * query.PageSize,
                query.PageSize,
            }, cancellationToken: ct), (total, prompt) => (total, prompt), splitOn: "id")).AsList();
            var items = rows.Where(r => r.Prompt is not null).Select(r => r.Prompt!).ToList();
            return new Response(items, rows[0].Total, query.Page, query.PageSize);
        }

        /// <summary>The search is a literal substring: LIKE's wildcards and its escape character match themselves.</summary>
        private static string EscapeLike(string text) => text.Replace(@"\", @"\\").Replace("%", @"\%").Replace("_", @"\_");
    }

    public static async Task<Ok<Response>> Endpoint(ClaimsPrincipal user, IMediator mediator, CancellationToken ct,
        [FromQuery] string? scenario = null, [FromQuery(Name = "include_templates")] string? includeTemplates = null,
        [FromQuery] string? search = null, [FromQuery] string? tag = null,
        [FromQuery] string? page = null, [FromQuery(Name = "page_size")] string? pageSize = null) =>
        TypedResults.Ok(await mediator.Send(new Query(user.RequiredUserId(), scenario, includeTemplates, search, tag, page, pageSize), ct));
}
