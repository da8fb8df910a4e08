using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Hermes.Persistence.Operations;

public static class OperationsExtensions
{
    /// <summary>
    /// Registers the operator operations (replay, purge, doctor, erase, seed, stats, lead history, lead search, delivery
    /// activity, audit trail) over the host's <see cref="Npgsql.NpgsqlDataSource"/> (from <c>AddHermesPersistence</c> (Hermes.ServiceDefaults)). The CLI
    /// builds the same classes over its own data source.
    /// </summary>
    public static IServiceCollection AddHermesOperations(this IServiceCollection services)
    {
        services.TryAddSingleton<OutboxReplay>();
        services.TryAddSingleton<OutboxPurge>();
        services.TryAddSingleton<AttemptPartitions>();
        services.TryAddSingleton<IntegrityDoctor>();
        services.TryAddSingleton<LeadErasure>();
        services.TryAddSingleton<LeadSeeder>();
        services.TryAddSingleton<OutboxStatistics>();
        services.TryAddSingleton<LeadHistory>();
        services.TryAddSingleton<LeadSearch>();
        services.TryAddSingleton<DeliveryActivity>();
        services.TryAddSingleton<AuditTrail>();
        return services;
    }
}
