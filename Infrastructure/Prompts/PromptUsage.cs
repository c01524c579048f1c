using Dapper;
using Npgsql;

namespace ChatSlices.Infrastructure.Prompts;

/// <summary>
/// A stored prompt put to use (a preview, or a chat turn built from it): its content is read and its <c>usage_count</c>
/// incremented in one atomic statement. Visible prompts only: the caller's own and templates (a guest, with no user id,
/// reaches templates only); anything else is null, and nothing changes.
/// </summary>
public static class PromptUsage
{
    /// <summary>The prompts a caller may use: their own and the templates.</summary>
    public const string Visible = "(p.owner_id = @UserId OR p.is_template)";

    public const string Sql = $"""
        UPDATE prompts p SET usage_count = p.usage_count + 1
        WHERE p.id = @PromptId AND {Visible}
        RETURNING p.content
        """;

    /// <summary>The prompt's content, counted as one use; null when the caller may not see it.</summary>
    public static async Task<string?> UseAsync(NpgsqlConnection conn, Guid promptId, string? userId, CancellationToken ct) =>
        await conn.QuerySingleOrDefaultAsync<string>(new CommandDefinition(Sql, new { PromptId = promptId, UserId = userId }, cancellationToken: ct));
}
