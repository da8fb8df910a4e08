using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Hermes.ServiceDefaults;

/// <summary>What every Hermes host sets up the same way, in one call from its <c>Program</c>.</summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>
    /// Console logging (JSON in containers), OpenTelemetry (only when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set), and
    /// the Production guard, run when the host starts, before anything else of Hermes (call this first).
    /// </summary>
    public static IHostApplicationBuilder AddHermesServiceDefaults(this IHostApplicationBuilder builder, string serviceName)
    {
        builder.Services.AddHostedService<ProductionGuardCheck>();
        builder.AddHermesTelemetry(serviceName);
        return builder;
    }

    /// <summary><c>/health/live</c> and <c>/health/ready</c> (see <see cref="HealthEndpoints"/>).</summary>
    public static WebApplication MapHermesDefaultEndpoints(this WebApplication app)
    {
        app.MapHermesLiveAndReady();
        return app;
    }

    /// <summary>Refuses a Production start with development defaults (see <see cref="ProductionGuard"/>).</summary>
    private sealed class ProductionGuardCheck(IConfiguration configuration, IHostEnvironment environment) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            ProductionGuard.Enforce(configuration, environment);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
