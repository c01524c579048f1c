using Dapper;
using Npgsql;

namespace ChatSlices.Infrastructure.Prompts;

/// <summary>
/// A stored prompt put to use (a preview, or a chat turn built from it). Its content is read first, without counting;
/// <c>usage_count</c> grows only once the use has passed every check, so a refused request leaves it as it was. Visible
/// prompts only: the caller's own and templates (a guest, with no user id, reaches templates only).
/// </summary>
public static class PromptUsage
{
    /// <summary>The prompts a caller may use: their own and the templates.</summary>
    public const string Visible = "(p.owner_id = @UserId OR p.is_template)";

    /// <summary>The content of <c>@PromptId</c> when <c>@UserId</c> may use it (no row otherwise).</summary>
    public const string ReadSql = $"SELECT p.content FROM prompts p WHERE p.id = @PromptId AND {Visible}";

    /// <summary>One use of <c>@PromptId</c>; a null id counts nothing.</summary>
    public const string CountSql = "UPDATE prompts SET usage_count = usage_count + 1 WHERE id = @PromptId";

    /// <summary>The prompt's content; null when the caller may not see it.</summary>
    public static async Task<string?> ReadAsync(NpgsqlConnection conn, Guid promptId, string? userId, CancellationToken ct) =>
        await conn.QuerySingleOrDefaultAsync<string>(new CommandDefinition(ReadSql, new { PromptId = promptId, UserId = userId }, cancellationToken: ct));

    public static Task CountAsync(NpgsqlConnection conn, Guid promptId, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(CountSql, new { PromptId = promptId }, cancellationToken: ct));
}
