using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ChatSlices.Features.StreamChat;

/// <summary>
/// This instance's lease in PostgreSQL, renewed every third of <c>Chat:InstanceLeaseSeconds</c>, and the sweep for
/// replies whose instance lost its lease (killed, out of memory, its node gone): each is stored as interrupted with the
/// text shared so far (Redis, when set; else none), its quota reservation is given back, and a reader resuming it gets
/// <c>error instance_lost</c> and <c>done</c>. Every instance sweeps; a reply is claimed by one (<c>SKIP LOCKED</c>).
/// </summary>
public sealed class InstanceLease(NpgsqlDataSource db, SharedStreams shared, IOptions<ChatSettings> settings, ILogger<InstanceLease> logger)
    : BackgroundService
{
    public Guid Id { get; } = Guid.NewGuid();

    private TimeSpan Lease => TimeSpan.FromSeconds(settings.Value.InstanceLeaseSeconds);

    private const string RenewSql = """
        INSERT INTO service_instances (id, lease_until) VALUES (@Id, now() + make_interval(secs => @Seconds))
        ON CONFLICT (id) DO UPDATE SET lease_until = excluded.lease_until;
        DELETE FROM service_instances WHERE lease_until < now() - interval '1 day';
        """;

    // A reply is lost when its instance holds no lease now and it is older than a lease (so an instance that has just
    // started, and not yet renewed, is not swept by another).
    private const string LostSql = """
        SELECT l.message_id AS MessageId, l.session_id AS SessionId, l.parent_id AS UserMessageId, l.model AS Model,
               l.quota_subject AS Subject, l.quota_day AS Day, l.quota_tokens AS Tokens
        FROM live_replies l
        WHERE l.started_at < now() - make_interval(secs => @Seconds)
          AND NOT EXISTS (SELECT 1 FROM service_instances i WHERE i.id = l.instance_id AND i.lease_until >= now())
        ORDER BY l.started_at
        LIMIT 50
        FOR UPDATE OF l SKIP LOCKED
        """;

    private const string StoreLostSql = $"""
        INSERT INTO chat_messages (id, session_id, parent_id, user_id, role, content, model, status, error)
        VALUES (@MessageId, @SessionId, {StoreTurn.ReplyParent}, (SELECT user_id FROM chat_sessions WHERE id = @SessionId), 'assistant', @Content, @Model, 'interrupted', @Error)
        ON CONFLICT (id) DO NOTHING;
        UPDATE chat_sessions SET updated_at = now(), {StoreTurn.ReplyActivated} WHERE id = @SessionId;
        DELETE FROM live_replies WHERE message_id = @MessageId;
        UPDATE usage_daily SET tokens = greatest(0, tokens - @Tokens) WHERE subject = @Subject AND day = @Day;
        """;

    private sealed record LostReply(Guid MessageId, Guid SessionId, Guid? UserMessageId, string Model, string? Subject, DateOnly? Day, long? Tokens);

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(Lease / 3);
        do
        {
            try
            {
                await RenewAsync(stopping);
                await SweepAsync(stopping);
            }
            catch (Exception e) when (!stopping.IsCancellationRequested)
            {
                // Whatever failed (the database, Redis, a stored event that does not read), the next tick tries again:
                // an exception here would stop the host.
                logger.LogWarning(e, "Renewing the instance lease or sweeping lost replies failed; retrying in {Seconds} s", (Lease / 3).TotalSeconds);
            }
        } while (await WaitAsync(timer, stopping));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stopping)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stopping);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private async Task RenewAsync(CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await conn.ExecuteAsync(new CommandDefinition(RenewSql, new { Id, Seconds = Lease.TotalSeconds }, cancellationToken: ct));
    }

    /// <summary>Stores the replies of lapsed instances; returns how many.</summary>
    public async Task<int> SweepAsync(CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var lost = (await conn.QueryAsync<LostReply>(new CommandDefinition(LostSql, new { Seconds = Lease.TotalSeconds }, tx, cancellationToken: ct))).AsList();
        foreach (var reply in lost)
        {
            var content = await shared.TextSoFarAsync(reply.MessageId);
            await conn.ExecuteAsync(new CommandDefinition(StoreLostSql, new
            {
                reply.MessageId, reply.SessionId, reply.UserMessageId, reply.Model, Content = content, Error = SharedStreams.InstanceLost.Message,
                reply.Subject, reply.Day, Tokens = reply.Tokens ?? 0,
            }, tx, cancellationToken: ct));
        }
        await tx.CommitAsync(ct);
        foreach (var reply in lost)
        {
            logger.LogWarning("Reply {MessageId} was being generated by an instance that is gone: stored as interrupted (instance_lost)", reply.MessageId);
            await shared.EndLostAsync(reply.MessageId, reply.SessionId);
        }
        return lost.Count;
    }

    public override async Task StopAsync(CancellationToken ct)
    {
        await base.StopAsync(ct);
        // Every reply of a clean stop is stored by now: the lease goes, and with it nothing.
        try
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            await conn.ExecuteAsync(new CommandDefinition("DELETE FROM service_instances WHERE id = @Id", new { Id }, cancellationToken: ct));
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException or ObjectDisposedException)
        {
            logger.LogDebug(e, "The instance lease was not removed; it lapses on its own");
        }
    }
}
