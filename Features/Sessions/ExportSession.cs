using System.Runtime.CompilerServices;
using System.Security.Claims;
using System.Text.Json;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Mediation;
using Dapper;
using MediatR;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Npgsql;
using HttpJsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace ChatSlices.Features.Sessions;

/// <summary>
/// GET /v1/chat/sessions/{id}/export?format=json|markdown&amp;branch=active|all: the conversation as a file to download,
/// for whoever may read the session (its owner; a guest session by its id): its active branch, or in JSON the whole tree
/// (every message with its parent). The session is checked before the first byte; its messages are then read and
/// written one by one, so that a long session is streamed, not held in memory.
/// </summary>
public static class ExportSession
{
    public const string Json = "json", Markdown = "markdown", ActiveBranch = "active", WholeTree = "all";

    public sealed record Query(Guid SessionId, string? UserId, string? Format, string? Branch) : IRequest<Export?>, IValidated
    {
        public bool AsMarkdown => Format == Markdown;

        public bool AllBranches => Branch == WholeTree;

        public void Validate(ValidationErrors errors)
        {
            errors.Require(Format is null or Json or Markdown, "format", $"Must be \"{Json}\" or \"{Markdown}\".");
            errors.Require(Branch is null or ActiveBranch or WholeTree, "branch", $"Must be \"{ActiveBranch}\" or \"{WholeTree}\".");
            errors.Require(!(AsMarkdown && AllBranches), "branch", "A transcript is one branch: \"all\" is for the JSON export.");
        }
    }

    /// <summary>A message as exported: its place in the tree, what it said, by whom, with which model, the passages a reply cited.</summary>
    public sealed record ExportedMessage(
        Guid Id, Guid? ParentId, string Role, string Content, string? Model, string Status, JsonElement Sources, DateTime CreatedAt);

    /// <summary>The session, and its messages in order, read when enumerated (on a connection of their own).</summary>
    public sealed record Export(SessionView Session, IAsyncEnumerable<ExportedMessage> Messages);

    private const string Columns = "m.id, m.parent_id, m.role, m.content, m.model, m.status, m.sources, m.created_at";

    private const string ActiveBranchSql = $"""
        WITH RECURSIVE session AS (SELECT s.active_leaf_id FROM chat_sessions s WHERE s.id = @SessionId AND {SessionViews.Visible}),
        {SessionViews.ActiveBranchCte}
        SELECT {Columns} FROM branch b JOIN chat_messages m ON m.id = b.id
        ORDER BY b.depth DESC
        """;

    private const string WholeTreeSql = $"""
        SELECT {Columns} FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id
        WHERE m.session_id = @SessionId AND {SessionViews.Visible}
        ORDER BY m.created_at, m.id
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Query, Export?>
    {
        public async Task<Export?> Handle(Query query, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            var session = await SessionViews.LoadAsync(conn, query.SessionId, query.UserId, guestSessions: true, withMessages: false, ct);
            return session is null ? null : new Export(session, ReadMessagesAsync(query));
        }

        private async IAsyncEnumerable<ExportedMessage> ReadMessagesAsync(Query query, [EnumeratorCancellation] CancellationToken ct = default)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            var messages = conn.QueryUnbufferedAsync<ExportedMessage>(query.AllBranches ? WholeTreeSql : ActiveBranchSql,
                new { query.SessionId, query.UserId, GuestSessions = true, Depth = int.MaxValue });
            await foreach (var message in messages.WithCancellation(ct)) yield return message;
        }
    }

    public static async Task<Results<PushStreamHttpResult, NotFound>> Endpoint(Guid id, ClaimsPrincipal user, IMediator mediator,
        IOptions<HttpJsonOptions> json, CancellationToken ct, [FromQuery] string? format = null, [FromQuery] string? branch = null)
    {
        var query = new Query(id, user.UserId(), format, branch);
        if (await mediator.Send(query, ct) is not { } export) return TypedResults.NotFound();
        return query.AsMarkdown
            ? TypedResults.Stream(body => SessionExportWriters.WriteMarkdownAsync(body, export, ct),
                SessionExportWriters.MarkdownContentType, SessionExportWriters.FileName(export.Session, "md"))
            : TypedResults.Stream(body => SessionExportWriters.WriteJsonAsync(body, export, query.AllBranches ? WholeTree : ActiveBranch, json.Value.SerializerOptions, ct),
                SessionExportWriters.JsonContentType, SessionExportWriters.FileName(export.Session, "json"));
    }
}
