using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using ChatSlices.Infrastructure.AI;
using Dapper;
using Npgsql;

namespace ChatSlices.Infrastructure.Database;

/// <summary>
/// One HNSW (cosine) index per embedding model of the catalog, on chunks and on the semantic cache, as a partial expression index on
/// <c>embedding::vector(dimensions)</c>: vectors of different models share a table but never an index or a search.
/// Made at start-up (after migrations) when missing, under an advisory lock.
/// </summary>
public sealed partial class VectorIndexes(NpgsqlDataSource db, ModelCatalog catalog, ILogger<VectorIndexes> logger)
{
    private const long AdvisoryLockKey = 0x43_68_61_74_56_65_63_73; // "ChatVecs"

    public async Task EnsureAsync(CancellationToken ct)
    {
        var models = catalog.All.Where(m => m is { Kind: ModelKind.Embedding, Dimensions: > 0 }).ToList();
        if (models.Count == 0) return;
        await using var conn = await db.OpenConnectionAsync(ct);
        await conn.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_lock(@key)", new { key = AdvisoryLockKey }, cancellationToken: ct));
        try
        {
            foreach (var (table, model) in new[] { "chunks", "semantic_cache" }.SelectMany(t => models.Select(m => (t, m))))
            {
                var name = IndexName(table, model);
                var exists = await conn.ExecuteScalarAsync<bool>(new CommandDefinition("SELECT to_regclass(@name) IS NOT NULL", new { name }, cancellationToken: ct));
                if (exists) continue;
                // DDL takes no parameters: the name is sanitised, the dimension is a number, the model id a quoted literal.
                await conn.ExecuteAsync(new CommandDefinition(
                    $"CREATE INDEX {name} ON {table} USING hnsw ((embedding::vector({model.Dimensions})) vector_cosine_ops) " +
                    $"WITH (m = 16, ef_construction = 64) WHERE embedding_model = {Literal(model.Id)}",
                    cancellationToken: ct, commandTimeout: 0));
                logger.LogInformation("Created vector index {Index} for {Model}", name, model.Id);
            }
        }
        finally
        {
            await AdvisoryLock.ReleaseAsync(conn, AdvisoryLockKey, logger);
        }
    }

    public static string IndexName(string table, ModelSpec model)
    {
        var safe = NotIdentifier().Replace(model.Id.ToLowerInvariant(), "_");
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(model.Id)))[..8].ToLowerInvariant();
        return $"{table}_hnsw_{safe[..Math.Min(safe.Length, 30)]}_{hash}";
    }

    public static string Literal(string value) => "'" + value.Replace("'", "''") + "'";

    [GeneratedRegex("[^a-z0-9_]")]
    private static partial Regex NotIdentifier();
}
