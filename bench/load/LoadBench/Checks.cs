using System.Diagnostics;
using ChatSlices.Tests.Support;
using Npgsql;

namespace ChatSlices.LoadBench;

public sealed record StoredMessage(Guid Id, string UserId, string Role, string Content, string Status, long PromptTokens, long CompletionTokens);

/// <summary>What the service's database holds for the run's users: every message, and the daily-quota counters.</summary>
public sealed record Snapshot(IReadOnlyList<StoredMessage> Messages, IReadOnlyDictionary<string, long> DailyTokens)
{
    public static async Task<Snapshot> ReadAsync(string connectionString, CancellationToken ct)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync(ct);
        var messages = new List<StoredMessage>();
        await using (var cmd = new NpgsqlCommand("""
            SELECT m.id, s.user_id, m.role, m.content, m.status, coalesce(m.prompt_tokens, 0), coalesce(m.completion_tokens, 0)
            FROM chat_messages m JOIN chat_sessions s ON s.id = m.session_id
            """, conn))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
            while (await reader.ReadAsync(ct))
                messages.Add(new StoredMessage(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetInt32(5), reader.GetInt32(6)));
        var daily = new Dictionary<string, long>();
        await using (var cmd = new NpgsqlCommand("SELECT subject, sum(tokens)::bigint FROM usage_daily GROUP BY subject", conn))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
            while (await reader.ReadAsync(ct)) daily[reader.GetString(0)] = reader.GetInt64(1);
        return new Snapshot(messages, daily);
    }

    public IEnumerable<StoredMessage> Replies => Messages.Where(m => m.Role == "assistant");

    /// <summary>Every reply of <paramref name="ids"/> has landed and every quota reservation is settled to what the replies count.</summary>
    public bool Settled(IReadOnlySet<Guid> ids)
    {
        var stored = Replies.Select(m => m.Id).ToHashSet();
        return ids.All(stored.Contains) && ReplyTokensByUser().All(kv => DailyTokens.GetValueOrDefault(kv.Key) == kv.Value);
    }

    public Dictionary<string, long> ReplyTokensByUser() =>
        Replies.GroupBy(m => m.UserId).ToDictionary(g => g.Key, g => g.Sum(m => m.PromptTokens + m.CompletionTokens));
}

/// <summary>One invariant: how many items it was checked on, how many broke it, and the first few that did.</summary>
public sealed class Invariant(string name)
{
    public string Name { get; } = name;
    public int Checked { get; private set; }
    public int Violations { get; private set; }
    public List<string> Examples { get; } = [];

    public void Check(bool holds, Func<string> what)
    {
        Checked++;
        if (holds) return;
        Violations++;
        if (Examples.Count < 3) Examples.Add(what());
    }
}

/// <summary>The invariants of issue 10, checked against the stored rows, the usage API and what the clients saw.</summary>
public static class Checks
{
    /// <param name="upstream">The fake's requests by the user turn they answer (the prompt's last message).</param>
    public static List<Invariant> Run(IReadOnlyList<Turn> turns, Snapshot db, IReadOnlyDictionary<string, (long Prompt, long Completion)> apiUsage,
        ILookup<string, FakeRequest> upstream, FakeScript script)
    {
        var fullReply = string.Concat(script.Chunks);
        var answered = new Invariant("every turn answered: no HTTP error, error event or broken stream (client aborts aside)");
        foreach (var t in turns) answered.Check(t.Error is null && (t.Completed || t.Aborted), () => $"{t.Content}: {t.Error ?? "no end seen"}");

        var userTurns = new Invariant("every user turn sent is stored exactly once (and none that was not sent)");
        var users = turns.Select(t => t.UserId).ToHashSet();
        var stored = db.Messages.Where(m => m.Role == "user" && users.Contains(m.UserId)).GroupBy(m => (m.UserId, m.Content)).ToDictionary(g => g.Key, g => g.Count());
        var sent = turns.Where(t => t.Sent).ToList();
        foreach (var t in sent) userTurns.Check(stored.GetValueOrDefault((t.UserId, t.Content)) == 1, () => $"{t.Content}: stored {stored.GetValueOrDefault((t.UserId, t.Content))} times");
        var sentKeys = sent.Select(t => (t.UserId, t.Content)).ToHashSet();
        foreach (var key in stored.Keys.Where(k => !sentKeys.Contains(k))) userTurns.Check(false, () => $"stored but never sent: {key.Content}");

        var replies = db.Replies.ToDictionary(m => m.Id);
        var complete = new Invariant("every reply seen complete is stored `complete` with exactly the text and usage the client received");
        foreach (var t in turns.Where(t => t.Completed && !t.Aborted))
        {
            var row = t.MessageId is { } id ? replies.GetValueOrDefault(id) : null;
            complete.Check(row is { Status: "complete" } && row.Content == t.Received.ToString() && row.UserId == t.UserId
                           && row.PromptTokens == t.PromptTokens && row.CompletionTokens == t.CompletionTokens,
                () => row is null ? $"{t.Content}: no reply {t.MessageId} stored"
                    : $"{t.Content}: stored {row.Status}, {row.Content.Length} chars ({row.PromptTokens}+{row.CompletionTokens} tokens); the client got {t.Received.Length} chars ({t.PromptTokens}+{t.CompletionTokens})");
        }

        var interrupted = Interrupted(turns, replies, upstream, fullReply);

        var lost = new Invariant("no reply lost or extra: one stored reply per turn, none that no turn asked for");
        var ids = turns.Where(t => t.MessageId is not null).Select(t => t.MessageId!.Value).ToHashSet();
        foreach (var t in sent) lost.Check(t.MessageId is { } id && replies.ContainsKey(id), () => $"{t.Content}: reply {t.MessageId?.ToString() ?? "(no id seen)"} not stored");
        foreach (var row in db.Replies.Where(r => users.Contains(r.UserId) && !ids.Contains(r.Id))) lost.Check(false, () => $"reply {row.Id} ({row.Status}) of {row.UserId} belongs to no turn");

        var retries = new Invariant("an Idempotency-Key retry of a non-streaming turn returns the same stored reply");
        foreach (var t in turns.Where(t => t.Retry && t.MessageId is not null)) retries.Check(t.RetryMatched == true, () => $"{t.Content}: the retry answered differently ({t.Error ?? "another reply"})");

        var calls = new Invariant("one model call per turn (retries are answered from storage)");
        foreach (var t in sent) calls.Check(upstream[t.Content].Count() == 1, () => $"{t.Content}: the fake was called {upstream[t.Content].Count()} times");

        var (usage, daily) = Usage(users, db, apiUsage);
        return [answered, userTurns, complete, interrupted, lost, retries, calls, usage, daily];
    }

    /// <summary>
    /// The service learns that a client left only when its socket says so, which takes a while on a loaded machine. What it
    /// noticed shows at the fake: a reply cut short is stored interrupted (what the client got, then at most the rest of the
    /// fake's reply); a model call it never cancelled — the client left after the service had relayed the whole reply — is
    /// stored complete and whole. Either way nothing is lost; how many aborts cancelled the call is reported beside.
    /// </summary>
    private static Invariant Interrupted(IReadOnlyList<Turn> turns, Dictionary<Guid, StoredMessage> replies, ILookup<string, FakeRequest> upstream, string fullReply)
    {
        var interrupted = new Invariant("every aborted reply is stored `interrupted` (what the client got, then at most the rest of the fake's reply), " +
                                        "or `complete` and whole when the service had relayed it all before it saw the client leave");
        foreach (var t in turns.Where(t => t.Aborted))
        {
            var row = t.MessageId is { } id ? replies.GetValueOrDefault(id) : null;
            var call = upstream[t.Content].FirstOrDefault();
            var cancelled = call is not null && call.Aborted.Task.IsCompleted;
            var holds = row?.Status switch
            {
                "interrupted" => row.Content.StartsWith(t.Received.ToString(), StringComparison.Ordinal) && fullReply.StartsWith(row.Content, StringComparison.Ordinal),
                "complete" => call is not null && !cancelled && row.Content == fullReply,
                _ => false,
            };
            interrupted.Check(holds, () => row is null ? $"{t.Content}: no reply {t.MessageId} stored"
                : $"{t.Content}: stored {row.Status} \"{Cut(row.Content)}\"; the client got \"{Cut(t.Received.ToString())}\"; the fake wrote " +
                  $"{call?.ChunksWrittenAt.Count(at => at > t.AbortedAt) ?? 0} chunks after the client left" +
                  (call is not null && call.Aborted.Task.IsCompleted ? $" and saw the call cancelled {Stopwatch.GetElapsedTime(t.AbortedAt, call.Aborted.Task.Result).TotalMilliseconds:0} ms after" : " and was never cancelled"));
        }
        return interrupted;
    }

    /// <summary>The usage API and the daily-quota counters, per user, against the sum over that user's stored replies.</summary>
    private static (Invariant Usage, Invariant Daily) Usage(HashSet<string> users, Snapshot db, IReadOnlyDictionary<string, (long Prompt, long Completion)> apiUsage)
    {
        var usage = new Invariant("`GET /v1/tokens/usage` per user equals the sum over that user's stored replies");
        var daily = new Invariant("`usage_daily` per user settled to the same sum (every reservation released)");
        var byUser = db.Replies.GroupBy(r => r.UserId).ToDictionary(g => g.Key, g => (Prompt: g.Sum(r => r.PromptTokens), Completion: g.Sum(r => r.CompletionTokens)));
        foreach (var user in users.Order())
        {
            var sum = byUser.GetValueOrDefault(user);
            usage.Check(apiUsage.TryGetValue(user, out var api) && api == sum, () => $"{user}: API {(apiUsage.TryGetValue(user, out var a) ? $"{a.Prompt}+{a.Completion}" : "not read")}, stored replies {sum.Prompt}+{sum.Completion}");
            daily.Check(db.DailyTokens.GetValueOrDefault(user) == sum.Prompt + sum.Completion, () => $"{user}: usage_daily {db.DailyTokens.GetValueOrDefault(user)}, stored replies {sum.Prompt + sum.Completion}");
        }
        return (usage, daily);
    }

    private static string Cut(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
