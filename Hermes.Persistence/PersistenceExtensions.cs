using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;

namespace Hermes.Persistence;

/// <summary>How the context is configured, for the hosts (<c>AddHermesPersistence</c> in Hermes.ServiceDefaults), tools and tests.</summary>
public static class PersistenceExtensions
{
    /// <summary>The one place the context's provider options are set, for the hosts and for tools and tests.</summary>
    public static DbContextOptionsBuilder Configure(DbContextOptionsBuilder options, NpgsqlDataSource dataSource) =>
        // The model snapshot (Migrations/HermesDbContextModelSnapshot.cs) keeps EF Core's pending-model-changes check
        // meaningful: a model change without its migration stops Migrate.
        options.UseNpgsql(dataSource);

    /// <summary>Creates a context outside dependency injection (CLI verbs, tests).</summary>
    public static HermesDbContext CreateContext(NpgsqlDataSource dataSource) =>
        new(Configure(new DbContextOptionsBuilder<HermesDbContext>(), dataSource).Options as DbContextOptions<HermesDbContext>
            ?? throw new InvalidOperationException("Unexpected options type."));
}
