using Hermes.Persistence.Hosting;
using Hermes.ServiceDefaults;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Hermes.Outbox.Worker.Health;

/// <summary>
/// The worker's small HTTP endpoint: <c>/health/live</c>, <c>/health/ready</c> (the database answers) and
/// <c>/health/n8n</c> (see <see cref="N8nHealthCheck"/>); the backlog gauges; and telemetry export.
/// </summary>
public static class WorkerHealthExtensions
{
    public const string DefaultUrl = "http://+:8081";
    public const string N8nTag = "n8n";

    public static WebApplicationBuilder AddWorkerHealth(this WebApplicationBuilder builder)
    {
        // Bound like any ASP.NET Core host; only when nothing says where (--urls, ASPNETCORE_URLS, ..._HTTP_PORTS) 8081, not 5000.
        if (new[] { "urls", "http_ports", "https_ports" }.All(key => string.IsNullOrWhiteSpace(builder.Configuration[key])))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        HealthOptions.Register(services);
        services.AddSingleton<DatabaseProbe>();
        services.AddSingleton<OutboxBacklog>();
        services.AddSingletonCreatedWithHost<OutboxGauges>();
        services.AddHermesDatabaseGauges(Delivery.OutboxTelemetry.Name, includeSize: true);
        var timeout = builder.Configuration.GetValue($"{HealthOptions.Section}:{nameof(HealthOptions.Timeout)}", new HealthOptions().Timeout);
        services.AddHealthChecks()
            .Add(new HealthCheckRegistration(
                "database",
                static sp => new DatabaseHealthCheck(sp.GetRequiredService<DatabaseProbe>(), requireCurrentSchema: false),
                HealthStatus.Unhealthy,
                [HealthEndpoints.ReadyTag],
                timeout))
            .Add(new HealthCheckRegistration(
                "outcome-writer",
                static sp => ActivatorUtilities.CreateInstance<OutcomeWriterHealthCheck>(sp),
                HealthStatus.Unhealthy,
                [HealthEndpoints.ReadyTag, HealthEndpoints.LiveTag],
                timeout))
            .Add(new HealthCheckRegistration(
                "n8n",
                static sp => ActivatorUtilities.CreateInstance<N8nHealthCheck>(sp),
                HealthStatus.Unhealthy,
                [N8nTag],
                timeout));
        return builder;
    }

    public static WebApplication MapWorkerHealth(this WebApplication app)
    {
        app.MapHermesLiveAndReady();
        app.MapHealthChecks("/health/n8n", HealthEndpoints.Options(static check => check.Tags.Contains(N8nTag)));
        return app;
    }
}
