using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Hermes.Persistence;

public static class PersistenceExtensions
{
    /// <summary>
    /// Registers the database for either host: the resolved <see cref="HermesDatabase"/>, one
    /// <see cref="NpgsqlDataSource"/> (pooled connections for raw SQL), and a pooled <see cref="HermesDbContext"/>
    /// on that same data source. Settings are read when first needed and checked when the host starts, so a
    /// missing or malformed <c>DATABASE_URL</c> stops the process with a message naming the key.
    /// </summary>
    public static IHostApplicationBuilder AddHermesPersistence(this IHostApplicationBuilder builder, string applicationName)
    {
        var services = builder.Services;
        services.AddSingleton(sp => HermesDatabase.FromConfiguration(sp.GetRequiredService<IConfiguration>(), applicationName));
        services.AddSingleton(static sp =>
        {
            var database = sp.GetRequiredService<HermesDatabase>();
            var dataSource = new NpgsqlDataSourceBuilder(database.ConnectionString);
            dataSource.UseLoggerFactory(sp.GetRequiredService<ILoggerFactory>());
            return dataSource.Build();
        });
        services.AddDbContextPool<HermesDbContext>(static (sp, options) => Configure(options, sp.GetRequiredService<NpgsqlDataSource>()));
        services.AddScoped<HermesMigrator>();
        services.AddHostedService<DatabaseSettingsCheck>();
        return builder;
    }

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

    /// <summary>Resolves the database settings when the host starts (and applies the Production guard), so bad settings fail fast with their key named.</summary>
    private sealed class DatabaseSettingsCheck(IServiceProvider services) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            Environments.ProductionGuard.Enforce(services.GetRequiredService<IConfiguration>(), services.GetRequiredService<IHostEnvironment>());
            _ = services.GetRequiredService<HermesDatabase>();
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
