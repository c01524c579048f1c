namespace ChatSlices.Tests.Support;

/// <summary>
/// Messages written straight into the database by a test come flat; this makes each session's messages one branch, as
/// the service stores them (each under the one before it, the newest the session's active leaf): the migration's own
/// backfill, for the sessions that have no active leaf yet.
/// </summary>
public static class SeededTree
{
    public const string ChainSql = """
        UPDATE chat_messages m SET parent_id = chain.parent_id
        FROM (SELECT c.id, lag(c.id) OVER (PARTITION BY c.session_id ORDER BY c.created_at, c.id) AS parent_id
              FROM chat_messages c JOIN chat_sessions s ON s.id = c.session_id WHERE s.active_leaf_id IS NULL) chain
        WHERE chain.id = m.id AND chain.parent_id IS NOT NULL;
        UPDATE chat_sessions s SET active_leaf_id = last.id
        FROM (SELECT DISTINCT ON (session_id) session_id, id FROM chat_messages ORDER BY session_id, created_at DESC, id DESC) last
        WHERE last.session_id = s.id AND s.active_leaf_id IS NULL;
        """;
}
