using Hermes.Persistence.Operations;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Hermes.Outbox.Worker.Retention;

public static class RetentionExtensions
{
    /// <summary>
    /// Registers the scheduled purge (<see cref="RetentionService"/>) with its <c>Retention</c> options, validated at
    /// start, and the attempt log's partition maintenance (<see cref="PartitionMaintenanceService"/>), which always runs. Needs <c>AddHermesPersistence</c> for the data source.
    /// </summary>
    public static IHostApplicationBuilder AddHermesRetention(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<RetentionOptions>().BindConfiguration(RetentionOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<RetentionOptions>, RetentionOptionsValidator>();
        builder.Services.AddHermesOperations();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddHostedService<RetentionService>();
        // Not an option of retention: attempts need their day's partition whether or not anything is purged.
        builder.Services.AddHostedService<PartitionMaintenanceService>();
        return builder;
    }
}
