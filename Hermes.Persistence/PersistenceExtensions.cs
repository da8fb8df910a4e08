using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;

namespace Hermes.Persistence;

/// <summary>How the context is configured, for the hosts (<c>AddHermesPersistence</c> in Hermes.ServiceDefaults), tools and tests.</summary>
public static class PersistenceExtensions
{
    /// <summary>The one place the context's provider options are set, for the hosts and for tools and tests.</summary>
    public static DbContextOptionsBuilder Configure(DbContextOptionsBuilder options, NpgsqlDataSource dataSource) =>
        options
            .UseNpgsql(dataSource)
            // The migrations are hand-written (no EF Core Design package here, so no model snapshot); the drift
            // test compares the migrated schema with the model instead.
            .ConfigureWarnings(static w => w.Ignore(RelationalEventId.PendingModelChangesWarning));

    /// <summary>Creates a context outside dependency injection (CLI verbs, tests).</summary>
    public static HermesDbContext CreateContext(NpgsqlDataSource dataSource) =>
        new(Configure(new DbContextOptionsBuilder<HermesDbContext>(), dataSource).Options as DbContextOptions<HermesDbContext>
            ?? throw new InvalidOperationException("Unexpected options type."));
}
