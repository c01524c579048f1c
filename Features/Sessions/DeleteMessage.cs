using System.Security.Claims;
using ChatSlices.Infrastructure.Auth;
using ChatSlices.Infrastructure.Errors;
using Dapper;
using MediatR;
using Npgsql;

namespace ChatSlices.Features.Sessions;

/// <summary>
/// DELETE /v1/chat/sessions/{id}/messages/{message_id}: the message and every message under it, owner only. When the
/// active branch went with them, the newest branch left under the message's parent becomes active. Refused (409) while
/// a reply of the session is being generated: it would have no turn to hang under.
/// </summary>
public static class DeleteMessage
{
    public sealed record Command(Guid SessionId, Guid MessageId, string UserId) : IRequest<Outcome<Response>>;

    public sealed record Response(string Message, long Deleted, Guid? ActiveLeafId);

    private sealed record Target(Guid? ParentId, bool Generating);

    private const string TargetSql = """
        SELECT m.parent_id, EXISTS (SELECT 1 FROM live_replies l WHERE l.session_id = s.id) AS generating
        FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id
        WHERE m.id = @MessageId AND m.session_id = @SessionId AND s.user_id = @UserId
        FOR UPDATE OF s
        """;

    // The subtree goes by the parent_id cascade; counted first.
    private const string DeleteSql = $"""
        WITH RECURSIVE subtree AS (
            SELECT id FROM chat_messages WHERE id = @MessageId
            UNION ALL
            SELECT c.id FROM subtree t JOIN chat_messages c ON c.parent_id = t.id
        )
        SELECT count(*) FROM subtree;
        DELETE FROM chat_messages WHERE id = @MessageId;
        UPDATE chat_sessions s SET active_leaf_id = {SwitchBranch.NewestLeafSql}, updated_at = now()
        WHERE s.id = @SessionId AND NOT EXISTS (SELECT 1 FROM chat_messages m WHERE m.id = s.active_leaf_id);
        SELECT active_leaf_id FROM chat_sessions WHERE id = @SessionId;
        """;

    public sealed class Handler(NpgsqlDataSource db) : IRequestHandler<Command, Outcome<Response>>
    {
        public async Task<Outcome<Response>> Handle(Command command, CancellationToken ct)
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            await using var tx = await conn.BeginTransactionAsync(ct);
            var target = await conn.QuerySingleOrDefaultAsync<Target>(new CommandDefinition(TargetSql, command, tx, cancellationToken: ct));
            if (target is null) return Failure.NotFound("Message");
            if (target.Generating)
                return new Failure(StatusCodes.Status409Conflict, "A reply of this session is being generated; stop it or wait for it, then delete.", "reply_in_progress");
            await using var results = await conn.QueryMultipleAsync(new CommandDefinition(DeleteSql,
                new { command.SessionId, command.MessageId, Top = target.ParentId }, tx, cancellationToken: ct));
            var deleted = await results.ReadSingleAsync<long>();
            var active = await results.ReadSingleAsync<Guid?>();
            await results.DisposeAsync();
            await tx.CommitAsync(ct);
            return new Response("Message deleted successfully", deleted, active);
        }
    }

    public static async Task<IResult> Endpoint(Guid id, Guid messageId, ClaimsPrincipal user, IMediator mediator, CancellationToken ct)
    {
        var outcome = await mediator.Send(new Command(id, messageId, user.RequiredUserId()), ct);
        return outcome.Failure is { } failure ? failure.ToResult() : TypedResults.Ok(outcome.Value!);
    }
}
