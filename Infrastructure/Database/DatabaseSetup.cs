using Dapper;
using Npgsql;

namespace ChatSlices.Infrastructure.Database;

public static class DatabaseSetup
{
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
            return new NpgsqlDataSourceBuilder(connectionString) { Name = "chatslices" }.Build();
        });
        services.AddSingleton<Migrator>();
        return services;
    }
}
