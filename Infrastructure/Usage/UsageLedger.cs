using ChatSlices.Infrastructure.RateLimiting;
using Dapper;
using Npgsql;

namespace ChatSlices.Infrastructure.Usage;

/// <summary>What a row of the ledger was spent on.</summary>
public static class UsageKind
{
    public const string Chat = "chat";
    public const string Preview = "preview";
    public const string Embedding = "embedding";
}

/// <summary>One row of the usage ledger: tokens and cost of one model call or one ingestion, by whom (null: a guest).</summary>
public sealed record UsageEntry(string? UserId, string Kind, string Model, long PromptTokens, long CompletionTokens, decimal Cost, bool Estimated)
{
    public Guid? SessionId { get; init; }
    public Guid? DocumentId { get; init; }
}

/// <summary>
/// The usage ledger (<c>usage_ledger</c>): billing history that outlives sessions and files, read by the usage report.
/// A chat turn's reply writes its row in the batch that stores the reply (StoreTurn); an ingestion in the transaction
/// that stores the document; a single model answer (AskModel) here, with the settlement of its quota reservation.
/// </summary>
public sealed class UsageLedger(NpgsqlDataSource db, ILogger<UsageLedger> logger)
{
    /// <summary>The insert of one <see cref="UsageEntry"/> (its properties as parameters), for a caller's own transaction.</summary>
    public const string InsertSql = """
        INSERT INTO usage_ledger (user_id, kind, model, prompt_tokens, completion_tokens, cost, estimated, session_id, document_id)
        VALUES (@UserId, @Kind, @Model, @PromptTokens, @CompletionTokens, @Cost, @Estimated, @SessionId, @DocumentId);
        """;

    /// <summary>
    /// Records <paramref name="entry"/> and settles <paramref name="reservation"/> to <paramref name="used"/> tokens in one
    /// round trip and one transaction. Not tied to the request (the tokens were spent even when the client has gone), only
    /// bounded by a timeout; runs in a <c>finally</c>, so a database that cannot take it is logged, not thrown.
    /// </summary>
    public async Task RecordAsync(UsageEntry entry, TokenQuota.Reservation? reservation, long used)
    {
        try
        {
            var parameters = new DynamicParameters(entry);
            if (reservation is not null)
                parameters.AddDynamicParams(new { reservation.Subject, reservation.Day, Reserved = reservation.Tokens, Used = used });
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await using var conn = await db.OpenConnectionAsync(timeout.Token);
            await conn.ExecuteAsync(new CommandDefinition(reservation is null ? InsertSql : InsertSql + TokenQuota.SettleInTransactionSql,
                parameters, cancellationToken: timeout.Token));
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException)
        {
            logger.LogError(e, "Recording {Kind} usage of {Model} failed; the reservation stays counted for today", entry.Kind, entry.Model);
        }
    }
}
