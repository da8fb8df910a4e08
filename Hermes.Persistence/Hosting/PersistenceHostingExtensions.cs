using Hermes.Persistence;
using Hermes.Persistence.CompiledModel;
using Hermes.Persistence.Outbox;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Hermes.Persistence.Hosting;

/// <summary>The database as both hosts register it.</summary>
public static class PersistenceHostingExtensions
{
    /// <summary>
    /// Registers the database for either host: the resolved <see cref="HermesDatabase"/> and one
    /// <see cref="NpgsqlDataSource"/> (pooled connections for raw SQL). EF Core is not part of it: the host that
    /// writes through the model adds <see cref="AddHermesDbContext"/>. Settings are read when first needed and
    /// checked when the host starts, so a missing or malformed <c>DATABASE_URL</c> stops the process with a message
    /// naming the key.
    /// </summary>
    /// <param name="builder">The host.</param>
    /// <param name="applicationName">The connections' <c>Application Name</c>, unless the settings give one.</param>
    /// <param name="wakesWorkersItself">
    /// True for the API: its transactions defer the insert trigger's NOTIFY, and it registers an enabled
    /// <see cref="OutboxNotifier"/>, which sends one per burst of commits. The deferral is a setting of each
    /// transaction, not of the connection, so it holds behind any pooler in any mode.
    /// </param>
    public static IHostApplicationBuilder AddHermesPersistence(this IHostApplicationBuilder builder, string applicationName, bool wakesWorkersItself = false)
    {
        var services = builder.Services;
        services.AddSingleton(sp => HermesDatabase.FromConfiguration(sp.GetRequiredService<IConfiguration>(), applicationName));
        services.AddSingleton(sp =>
        {
            var dataSource = new NpgsqlDataSourceBuilder(sp.GetRequiredService<HermesDatabase>().ConnectionString);
            dataSource.UseLoggerFactory(sp.GetRequiredService<ILoggerFactory>());
            return dataSource.Build();
        });
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new OutboxNotifier(
            sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<ILogger<OutboxNotifier>>(), sp.GetRequiredService<TimeProvider>(),
            enabled: wakesWorkersItself));
        // Checked with the host's other options when it starts (before anything runs), so a refusal is an options
        // validation failure like every other: the hosts exit with it in order (ConfigurationRefusal).
        services.AddOptions<DatabaseSettings>().ValidateOnStart();
        services.AddSingleton<IValidateOptions<DatabaseSettings>, DatabaseSettingsCheck>();
        return builder;
    }

    /// <summary>
    /// A pooled <see cref="HermesDbContext"/> on the data source of <see cref="AddHermesPersistence"/>, for the API's
    /// writes. The worker does without: its SQL is its own, and EF Core's assemblies, model and services would cost
    /// a draining worker resident memory for nothing (bench/RESULTS.md, "Memory, the next round").
    /// </summary>
    public static IHostApplicationBuilder AddHermesDbContext(this IHostApplicationBuilder builder)
    {
        builder.Services.AddDbContextPool<HermesDbContext>(static (sp, options) => PersistenceExtensions.Configure(options, sp.GetRequiredService<NpgsqlDataSource>())
            // The model compiled ahead (EfToolingTests keeps it what the tool generates now) instead of one built by
            // EF Core's conventions at the first context: about 5 MiB less resident code in the API (bench/RESULTS.md).
            .UseModel(HermesDbContextModel.Instance));
        return builder;
    }

    /// <summary>What <see cref="DatabaseSettingsCheck"/> validates: nothing bound, the settings are read from configuration.</summary>
    internal sealed class DatabaseSettings;

    /// <summary>
    /// Resolves the database settings when the host starts, so bad settings fail fast with their key named; and in
    /// Production refuses the local development cluster (<c>.hermes/</c>, what run.sh starts).
    /// </summary>
    private sealed class DatabaseSettingsCheck(IServiceProvider services, IConfiguration configuration, IHostEnvironment environment) : IValidateOptions<DatabaseSettings>
    {
        public ValidateOptionsResult Validate(string? name, DatabaseSettings options)
        {
            try
            {
                _ = services.GetRequiredService<HermesDatabase>();
            }
            catch (HermesConfigurationException e)
            {
                return ValidateOptionsResult.Fail(e.Message);
            }

            if (environment.IsProduction())
            {
                foreach (var key in new[] { HermesDatabase.UrlKey, HermesDatabase.ConnectionStringKey })
                {
                    if (configuration[key] is { } database && database.Contains(".hermes", StringComparison.Ordinal))
                    {
                        return ValidateOptionsResult.Fail($"{key} points at the local development cluster (.hermes/): give the production database.");
                    }
                }
            }

            return ValidateOptionsResult.Success;
        }
    }
}
