using Dapper;
using Npgsql;
using Pgvector.Npgsql;

namespace ChatSlices.Infrastructure.Database;

public static class DatabaseSetup
{
    private const string SessionSettings = "SET hnsw.iterative_scan = relaxed_order; SET hnsw.ef_search = 200";

    public static IServiceCollection AddDatabase(this IServiceCollection services)
    {
        DefaultTypeMap.MatchNamesWithUnderscores = true;
        SqlMapper.AddTypeHandler(new VectorTypeHandler());
        SqlMapper.AddTypeHandler(new JsonElementTypeHandler());

        // Resolved lazily so that configuration overrides (tests, environment) are seen.
        services.AddSingleton(sp =>
        {
            var connectionString = sp.GetRequiredService<IConfiguration>().GetConnectionString("Postgres");
            if (string.IsNullOrWhiteSpace(connectionString))
                throw new InvalidOperationException(
                    "ConnectionStrings:Postgres is not set (environment variable ConnectionStrings__Postgres). ./run.sh sets it for the local cluster.");
            var builder = new NpgsqlDataSourceBuilder(connectionString) { Name = "chatslices" };
            builder.UseVector();
            // Nothing session-scoped outlives a use (settings are SET LOCAL or the same for every use; advisory locks are
            // released, or their pool cleared): no DISCARD ALL round trip per returned connection, and the statements
            // the service runs most stay prepared on each connection.
            builder.ConnectionStringBuilder.NoResetOnClose = true;
            if (builder.ConnectionStringBuilder.MaxAutoPrepare == 0) builder.ConnectionStringBuilder.MaxAutoPrepare = 64;
            // Filtered vector searches keep scanning the HNSW graph until they have k matches (pgvector 0.8).
            builder.UsePhysicalConnectionInitializer(
                conn => { using var cmd = new NpgsqlCommand(SessionSettings, conn); cmd.ExecuteNonQuery(); },
                async conn => { await using var cmd = new NpgsqlCommand(SessionSettings, conn); await cmd.ExecuteNonQueryAsync(); });
            return builder.Build();
        });
        services.AddSingleton<Migrator>();
        services.AddSingleton<VectorIndexes>();
        return services;
    }
}
