using Hermes.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Hermes.ServiceDefaults;

/// <summary>The database as both hosts register it.</summary>
public static class PersistenceHostingExtensions
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
        services.AddDbContextPool<HermesDbContext>(static (sp, options) => PersistenceExtensions.Configure(options, sp.GetRequiredService<NpgsqlDataSource>()));
        services.AddScoped<HermesMigrator>();
        services.AddHostedService<DatabaseSettingsCheck>();
        return builder;
    }

    /// <summary>Resolves the database settings when the host starts, so bad settings fail fast with their key named.</summary>
    private sealed class DatabaseSettingsCheck(IServiceProvider services) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            _ = services.GetRequiredService<HermesDatabase>();
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
