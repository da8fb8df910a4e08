using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Hermes.Persistence.Hosting;

/// <summary>
/// OpenTelemetry and console logging for both hosts. OpenTelemetry.Extensions.Hosting is not to be had here, so
/// the core SDK is built with <see cref="OpenTelemetrySdk.Create"/> and owned by the container (disposed, and so
/// flushed, with the host). Everything else comes from the standard <c>OTEL_*</c> keys of the host's configuration
/// (environment variables, appsettings, command line), which the SDK and the OTLP exporter read themselves
/// (<c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, <c>OTEL_EXPORTER_OTLP_HEADERS</c>, <c>OTEL_RESOURCE_ATTRIBUTES</c>,
/// <c>OTEL_SERVICE_NAME</c>, <c>OTEL_TRACES_SAMPLER</c>, …).
/// </summary>
public static class HermesTelemetryExtensions
{
    public const string EndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";
    public const string ServiceNameKey = "OTEL_SERVICE_NAME";
    public const string LogFormatKey = "HERMES_LOG_FORMAT";

    /// <summary>Spans: Hermes' own and what ASP.NET Core, HttpClient and Npgsql emit natively.</summary>
    public static readonly string[] ActivitySources = ["Hermes.Api", "Hermes.Outbox", "Microsoft.AspNetCore", "System.Net.Http", "Npgsql"];

    public static readonly string[] Meters = ["Hermes.Api", "Hermes.Outbox", "Microsoft.AspNetCore.Hosting", "System.Net.Http", "Npgsql"];

    /// <summary>
    /// Exports traces, metrics and logs over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set; otherwise registers
    /// nothing, so an unobserved process pays nothing (no listener, no exporter thread). <c>service.name</c> is
    /// <paramref name="serviceName"/> unless <c>OTEL_SERVICE_NAME</c> says otherwise.
    /// </summary>
    public static IHostApplicationBuilder AddHermesTelemetry(this IHostApplicationBuilder builder, string serviceName)
    {
        builder.AddHermesConsoleLogging();
        if (string.IsNullOrWhiteSpace(builder.Configuration[EndpointKey]))
        {
            return builder;
        }

        var explicitName = builder.Configuration[ServiceNameKey];
        var environment = builder.Environment.EnvironmentName;
        void Resource(ResourceBuilder resource)
        {
            if (string.IsNullOrWhiteSpace(explicitName))
            {
                resource.AddService(serviceName);
            }

            resource.AddAttributes([new("deployment.environment.name", environment)]);
        }

        // The SDK would read only environment variables; give it the host's configuration instead, so an OTEL_* key
        // set anywhere the host reads (environment, appsettings, command line) reaches the exporters too.
        var configuration = builder.Configuration;
        builder.Services.AddSingleton(_ => OpenTelemetrySdk.Create(otel =>
        {
            otel.Services.AddSingleton<IConfiguration>(configuration);
            otel.ConfigureResource(Resource)
                .WithTracing(static tracing => tracing.AddSource(ActivitySources).AddOtlpExporter())
                .WithMetrics(static metrics => metrics.AddMeter(Meters).AddOtlpExporter());
        }));
        builder.Services.AddHostedService<TelemetryStart>();

        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeScopes = true;
            logging.IncludeFormattedMessage = true;
            var resource = ResourceBuilder.CreateDefault();
            Resource(resource);
            logging.SetResourceBuilder(resource);
            logging.AddOtlpExporter();
        });
        return builder;
    }

    /// <summary>
    /// JSON lines on the console (with scopes, UTC timestamps) when <c>HERMES_LOG_FORMAT=json</c>, or in a container
    /// (<c>DOTNET_RUNNING_IN_CONTAINER=true</c>, set by the .NET base images) unless <c>HERMES_LOG_FORMAT</c> says
    /// otherwise. An explicit <c>Logging:Console:FormatterName</c> always wins.
    /// </summary>
    public static IHostApplicationBuilder AddHermesConsoleLogging(this IHostApplicationBuilder builder)
    {
        if (!string.IsNullOrWhiteSpace(builder.Configuration["Logging:Console:FormatterName"]) || !WantsJson(builder.Configuration))
        {
            return builder;
        }

        builder.Logging.AddJsonConsole(static json =>
        {
            json.IncludeScopes = true;
            json.UseUtcTimestamp = true;
            json.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
        });
        return builder;
    }

    internal static bool WantsJson(IConfiguration configuration)
    {
        var format = configuration[LogFormatKey];
        if (!string.IsNullOrWhiteSpace(format))
        {
            return string.Equals(format.Trim(), "json", StringComparison.OrdinalIgnoreCase);
        }

        return string.Equals(configuration["DOTNET_RUNNING_IN_CONTAINER"], "true", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Builds the SDK when the host starts (the container disposes it when the host ends).</summary>
    private sealed class TelemetryStart(OpenTelemetrySdk sdk) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            GC.KeepAlive(sdk);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
