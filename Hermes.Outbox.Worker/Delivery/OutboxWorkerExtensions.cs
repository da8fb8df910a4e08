using Hermes.Persistence.Operations;
using Hermes.Persistence.Outbox;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Hermes.Outbox.Worker.Delivery;

public static class OutboxWorkerExtensions
{
    /// <summary>
    /// Registers the outbox delivery: options (validated at start, each message naming its key), the store,
    /// the webhook client, the wake-up listener and the dispatcher. <see cref="DeliveryState"/> and
    /// <see cref="IOutboxWakeUp"/> are singletons for health checks and operator actions.
    /// </summary>
    public static IHostApplicationBuilder AddOutboxDelivery(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);

        services.AddOptions<OutboxOptions>()
            .BindConfiguration(OutboxOptions.Section)
            .PostConfigure<IConfiguration>(static (options, configuration) =>
            {
                // Unset: the default batch, as large as the configured lease covers.
                if (string.IsNullOrEmpty(configuration[$"{OutboxOptions.Section}:{nameof(OutboxOptions.BatchSize)}"]))
                {
                    options.BatchSize = options.DefaultBatchSizeFor();
                }
            })
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<OutboxOptions>, OutboxOptionsValidator>();
        services.AddOptions<WebhookOptions>()
            .BindConfiguration(WebhookOptions.Section)
            .Configure<IConfiguration>(static (options, configuration) =>
            {
                options.Url = configuration[WebhookOptions.UrlKey] is { Length: > 0 } url ? url : options.Url;
                options.Secret = configuration[WebhookOptions.SecretKey] is { Length: > 0 } secret ? secret : options.Secret;
            })
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<WebhookOptions>, WebhookOptionsValidator>();

        services.AddSingleton<DeliveryState>();
        services.AddSingleton<OutboxWakeUp>();
        services.AddSingleton<IOutboxWakeUp>(static sp => sp.GetRequiredService<OutboxWakeUp>());
        services.AddSingleton<OutboxTelemetry>();
        services.AddSingleton<OutboxStore>();
        services.AddSingleton<WebhookClient>();
        services.TryAddSingleton<AttemptPartitions>();
        services.AddSingleton<OutcomeCompleter>();
        services.TryAddSingleton<OutboxAutoRecovery>();
        services.AddHostedService<OutboxListener>();
        services.AddHostedService<OutboxDispatcher>();
        services.AddHostedService<OutageRecovery>();
        services.AddHostedService<WebhookSigningNotice>();
        return builder;
    }

    /// <summary>Says once at start when requests go out unsigned.</summary>
    private sealed class WebhookSigningNotice(IOptions<WebhookOptions> options, ILogger<WebhookClient> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            if (string.IsNullOrWhiteSpace(options.Value.Secret))
            {
                WorkerLog.NotSigned(logger, WebhookOptions.SecretKey);
            }

            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
