using Hermes.Persistence.Operations;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Hermes.Outbox.Worker.Retention;

public static class RetentionExtensions
{
    /// <summary>
    /// Registers the scheduled purge (<see cref="RetentionService"/>) with its <c>Retention</c> options, validated at
    /// start. Needs <c>AddHermesPersistence</c> for the data source.
    /// </summary>
    public static IHostApplicationBuilder AddHermesRetention(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<RetentionOptions>().BindConfiguration(RetentionOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<RetentionOptions>, RetentionOptionsValidator>();
        builder.Services.AddHermesOperations();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddHostedService<RetentionService>();
        return builder;
    }
}
