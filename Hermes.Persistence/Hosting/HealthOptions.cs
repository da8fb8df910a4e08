using Hermes.Persistence;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Hermes.Persistence.Hosting;

/// <summary>Section <c>Health</c>: how health checks run and when the outbox counts as stuck.</summary>
public sealed class HealthOptions
{
    public const string Section = "Health";

    /// <summary>How long one check may take before it counts as unhealthy.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The worker's <c>/health/n8n</c> is unhealthy when the oldest pending row is older than this.</summary>
    public TimeSpan MaxPendingAge { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How long the pending count and oldest age (one query) are reused by gauges and health checks.</summary>
    public TimeSpan PendingCacheDuration { get; set; } = TimeSpan.FromSeconds(5);

    public static OptionsBuilder<HealthOptions> Register(IServiceCollection services) =>
        services.AddOptions<HealthOptions>()
            .BindConfiguration(Section)
            .Validate(static o => o.Timeout > TimeSpan.Zero, "Health:Timeout must be positive.")
            .Validate(static o => o.MaxPendingAge > TimeSpan.Zero, "Health:MaxPendingAge must be positive.")
            .Validate(static o => o.PendingCacheDuration >= TimeSpan.Zero, "Health:PendingCacheDuration must not be negative.")
            .ValidateOnStart();
}
