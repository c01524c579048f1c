using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using Dapper;
using Npgsql;
using NpgsqlTypes;
using static ChatSlices.Bench.Common.Figures;

namespace DataBench;

/// <summary>
/// The retrieval scenario's data (DataBench vectors-seed): unit vectors near seeded cluster centroids, loaded into the chunks
/// table by binary COPY with the service stopped; the HNSW index rebuilt afterwards with the service's own definition.
/// </summary>
internal static class VectorData
{
    public const string Model = "local-embed";
    private const int Seed = 20261122;

    /// <summary>The query vectors' random numbers: another stream of the same seed than the stored chunks'.</summary>
    public static Random QueryRandom() => new(Seed + 2);

    public static float[][] Centroids(int clusters, int dims)
    {
        var rng = new Random(Seed);
        return Enumerable.Range(0, clusters).Select(_ => Normalise(Enumerable.Range(0, dims).Select(_ => Gaussian(rng)).ToArray())).ToArray();
    }

    /// <summary>A unit vector near a centroid: centroid + Gaussian noise of the same expected norm (cosine to it ≈ 0.7).</summary>
    public static float[] Near(float[] centroid, Random rng)
    {
        var sd = 1.0 / Math.Sqrt(centroid.Length);
        return Normalise(centroid.Select(c => (float)(c + Gaussian(rng) * sd)).ToArray());
    }

    private static float Gaussian(Random rng) =>
        (float)(Math.Sqrt(-2.0 * Math.Log(1.0 - rng.NextDouble())) * Math.Cos(2.0 * Math.PI * rng.NextDouble()));

    private static float[] Normalise(float[] v)
    {
        var norm = Math.Sqrt(v.Sum(x => (double)x * x));
        return v.Select(x => (float)(x / norm)).ToArray();
    }

    /// <summary>pgvector's binary (vector_recv) format: int16 dims, int16 unused, float4 × dims, big-endian.</summary>
    private static byte[] Binary(float[] v)
    {
        var bytes = new byte[4 + 4 * v.Length];
        BinaryPrimitives.WriteInt16BigEndian(bytes, (short)v.Length);
        for (var i = 0; i < v.Length; i++) BinaryPrimitives.WriteSingleBigEndian(bytes.AsSpan(4 + 4 * i), v[i]);
        return bytes;
    }

    public static string Text(float[] v) => "[" + string.Join(",", v.Select(x => x.ToString("R", CultureInfo.InvariantCulture))) + "]";

    public static async Task<int> SeedAsync(string conn, int chunks, int dims, int clusters, int perDoc)
    {
        await using var db = new NpgsqlConnection(conn);
        await db.OpenAsync();
        var docs = (chunks + perDoc - 1) / perDoc;
        var sw = Stopwatch.StartNew();
        await CreateDocumentsAsync(db, docs);

        // The service made the HNSW index at start-up on an empty table: drop it, bulk-load, rebuild it with the same definition.
        var indexes = (await db.QueryAsync<(string Name, string Def)>(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'chunks' AND indexdef ILIKE '%USING hnsw%'")).AsList();
        if (indexes.Count == 0) throw new InvalidOperationException("No HNSW index on chunks: start the service once first.");
        foreach (var (name, _) in indexes) await db.ExecuteAsync($"DROP INDEX {name}");

        await CopyChunksAsync(db, chunks, dims, clusters, perDoc);
        var loaded = sw.Elapsed.TotalSeconds;
        ServiceHttp.Log($"loaded {chunks} chunks in {loaded:0.0} s; building the HNSW index");
        sw.Restart();
        await db.ExecuteAsync("SET maintenance_work_mem = '1GB'; SET max_parallel_maintenance_workers = 1");
        foreach (var (_, def) in indexes) await db.ExecuteAsync(def, commandTimeout: 0);
        var built = sw.Elapsed.TotalSeconds;
        await db.ExecuteAsync("ANALYZE chunks; ANALYZE documents;", commandTimeout: 0);
        var size = await db.ExecuteScalarAsync<string>($"SELECT pg_size_pretty(pg_relation_size('{indexes[0].Name}'))");
        ServiceHttp.Log($"index built in {built:0.0} s ({size})");
        Console.WriteLine($"Vector seed: {chunks} chunks × {dims} dims in {docs} documents/sessions ({perDoc} chunks each), {clusters} clusters; " +
            $"COPY {F(loaded, "0.0")} s; HNSW build {F(built, "0.0")} s (maintenance_work_mem 1GB, 1 parallel worker), index size {size}.");
        Console.WriteLine();
        Console.WriteLine($"Index: `{indexes[0].Def}`");
        Console.WriteLine();
        return 0;
    }

    /// <summary>The vector bench's user, and one session with one document per <c>perDoc</c> chunks.</summary>
    private static Task CreateDocumentsAsync(NpgsqlConnection db, int docs) => db.ExecuteAsync("""
            INSERT INTO users (id, name) VALUES ('vecbench', 'vector bench') ON CONFLICT DO NOTHING;
            INSERT INTO chat_sessions (id, user_id, model, title)
            SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 'vecbench', 'local-chat', 'vector bench ' || g
            FROM generate_series(1, @docs) g;
            INSERT INTO documents (id, session_id, uploaded_by, filename, mime_type, file_size, sha256, content, page_count)
            SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(g), 12, '0'))::uuid, ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid,
                   'vecbench', 'bench-' || g || '.pdf', 'application/pdf', 1, md5(g::text), '\x00'::bytea, 1
            FROM generate_series(1, @docs) g;
            """, new { docs });

    private static async Task CopyChunksAsync(NpgsqlConnection db, int chunks, int dims, int clusters, int perDoc)
    {
        var centroids = Centroids(clusters, dims);
        var rng = new Random(Seed + 1);
        await using (var writer = await db.BeginBinaryImportAsync(
            "COPY chunks (id, document_id, session_id, embedding_model, ordinal, page_from, page_to, content, embedding) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < chunks; i++)
            {
                var doc = i / perDoc + 1;
                var cluster = rng.Next(clusters);
                await writer.StartRowAsync();
                await writer.WriteAsync(Guid.CreateVersion7(), NpgsqlDbType.Uuid);
                await writer.WriteAsync(Guid.Parse($"00000000-0000-4000-9000-{doc:x12}"), NpgsqlDbType.Uuid);
                await writer.WriteAsync(Guid.Parse($"00000000-0000-4000-8000-{doc:x12}"), NpgsqlDbType.Uuid);
                await writer.WriteAsync(Model, NpgsqlDbType.Text);
                await writer.WriteAsync(i % perDoc, NpgsqlDbType.Integer);
                await writer.WriteAsync(1, NpgsqlDbType.Integer);
                await writer.WriteAsync(1, NpgsqlDbType.Integer);
                await writer.WriteAsync($"bench chunk {i} of document {doc} in cluster {cluster}", NpgsqlDbType.Text);
                await writer.WriteAsync(Binary(Near(centroids[cluster], rng)), NpgsqlDbType.Bytea); // raw vector_recv bytes
            }
            await writer.CompleteAsync();
        }
    }
}
