using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Hermes.ServiceDefaults;

/// <summary>
/// OpenTelemetry and console logging for both hosts, the standard way: <c>AddOpenTelemetry()</c> of
/// OpenTelemetry.Extensions.Hosting with <c>UseOtlpExporter()</c>, the ASP.NET Core, HttpClient, runtime and Npgsql
/// instrumentation, and Hermes' own sources and meters. Everything else comes from the standard <c>OTEL_*</c> keys,
/// which the SDK reads from the host's configuration (environment variables, appsettings, command line):
/// <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, <c>OTEL_EXPORTER_OTLP_HEADERS</c>, <c>OTEL_RESOURCE_ATTRIBUTES</c>,
/// <c>OTEL_SERVICE_NAME</c>, <c>OTEL_TRACES_SAMPLER</c>, ….
/// </summary>
public static class HermesTelemetryExtensions
{
    public const string EndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";
    public const string ServiceNameKey = "OTEL_SERVICE_NAME";
    public const string LogFormatKey = "HERMES_LOG_FORMAT";
    public const string ResourceAttributesKey = "OTEL_RESOURCE_ATTRIBUTES";
    public const string EnvironmentAttribute = "deployment.environment.name";

    /// <summary>
    /// <c>service.version</c> of every signal: the version MinVer stamped from the git history (or
    /// <c>HERMES_BUILD_VERSION</c> in an image), without its build metadata. Every Hermes assembly of one build carries
    /// the same, so this assembly's is the host's.
    /// </summary>
    public static readonly string ServiceVersion = VersionOf(typeof(HermesTelemetryExtensions).Assembly);

    /// <summary>An assembly's informational version without build metadata (<c>+…</c>); its assembly version if it has none.</summary>
    public static string VersionOf(Assembly assembly)
    {
        var informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        return string.IsNullOrWhiteSpace(informational)
            ? assembly.GetName().Version?.ToString(3) ?? "0.0.0"
            : informational.Split('+', 2)[0];
    }

    /// <summary>Hermes' own spans; ASP.NET Core, HttpClient and Npgsql spans come from their instrumentation.</summary>
    public static readonly string[] ActivitySources = ["Hermes.Api", "Hermes.Outbox"];

    /// <summary>Hermes' own meters; the HTTP, runtime and Npgsql meters come from their instrumentation.</summary>
    public static readonly string[] Meters = ["Hermes.Api", "Hermes.Admin", "Hermes.Outbox", ThreadPoolBlocking.MeterName];

    /// <summary>
    /// Metrics always: Hermes' meters and the ASP.NET Core, HttpClient, runtime and Npgsql instrumentation, served for
    /// Prometheus at <see cref="MetricsPath"/> (mapped by <see cref="HealthEndpoints.MapHermesLiveAndReady"/>, on the
    /// management port). Traces, logs and an OTLP copy of the metrics only when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set;
    /// otherwise no exporter thread runs. <c>service.name</c> is <paramref name="serviceName"/> unless
    /// <c>OTEL_SERVICE_NAME</c> says otherwise; <c>service.version</c> is <see cref="ServiceVersion"/>.
    /// </summary>
    public static IHostApplicationBuilder AddHermesTelemetry(this IHostApplicationBuilder builder, string serviceName)
    {
        builder.AddHermesConsoleLogging();
        ThreadPoolBlocking.Start();
        var name = FirstSet(builder.Configuration[ServiceNameKey]) ?? serviceName;
        var environment = builder.Environment.EnvironmentName;
        var environmentGiven = ResourceAttributesName(builder.Configuration[ResourceAttributesKey]);
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource =>
            {
                resource.AddService(name, serviceVersion: ServiceVersion);

                // One deployment.environment.name (the semantic conventions' current name; the deprecated
                // deployment.environment is not set): OTEL_RESOURCE_ATTRIBUTES' when it gives one, else the host's
                // environment (Development, Staging, Production).
                if (environmentGiven is null)
                {
                    resource.AddAttributes([new(EnvironmentAttribute, environment)]);
                }
            })
            .WithMetrics(static metrics => metrics
                .AddMeter(Meters)
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddNpgsqlInstrumentation()
                .AddPrometheusExporter());
        if (string.IsNullOrWhiteSpace(builder.Configuration[EndpointKey]))
        {
            return builder;
        }

        builder.Logging.AddOpenTelemetry(static logging =>
        {
            logging.IncludeScopes = true;
            logging.IncludeFormattedMessage = true;
        });
        telemetry
            .WithTracing(static tracing => tracing
                .AddSource(ActivitySources)
                .AddAspNetCoreInstrumentation(static aspnet =>
                    // Probes and scrapes are not traffic: their spans would drown the traces that matter.
                    aspnet.Filter = static context => !context.Request.Path.StartsWithSegments("/health", StringComparison.OrdinalIgnoreCase)
                        && !context.Request.Path.StartsWithSegments(MetricsPath, StringComparison.OrdinalIgnoreCase))
                .AddHttpClientInstrumentation()
                .AddNpgsql())
            .WithLogging()
            .UseOtlpExporter();
        return builder;
    }

    /// <summary>Where Prometheus scrapes every host: the management port of the API and the admin host (9464 in the images), the worker's health port (8081).</summary>
    public const string MetricsPath = "/metrics";

    /// <summary>
    /// The Prometheus text exposition at <see cref="MetricsPath"/>. Its own requests are left out of
    /// <c>http.server.request.duration</c>, so scrapes do not count as traffic in the latency and 5xx alerts. Served on
    /// the management port only when the host has one: it names the database host, login and database (Npgsql's pool names).
    /// </summary>
    public static IEndpointRouteBuilder MapHermesMetrics(this IEndpointRouteBuilder app)
    {
        app.MapPrometheusScrapingEndpoint(MetricsPath).DisableHttpMetrics().OnManagementPort();
        return app;
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

    /// <summary>The <c>deployment.environment.name</c> that <c>OTEL_RESOURCE_ATTRIBUTES</c> gives, if any.</summary>
    internal static string? ResourceAttributesName(string? attributes) =>
        (attributes ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(static pair => pair.Split('=', 2))
            .Where(static pair => pair.Length == 2 && string.Equals(pair[0].Trim(), EnvironmentAttribute, StringComparison.Ordinal))
            .Select(static pair => Uri.UnescapeDataString(pair[1].Trim()))
            .LastOrDefault();

    private static string? FirstSet(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    internal static bool WantsJson(IConfiguration configuration)
    {
        var format = configuration[LogFormatKey];
        if (!string.IsNullOrWhiteSpace(format))
        {
            return string.Equals(format.Trim(), "json", StringComparison.OrdinalIgnoreCase);
        }

        return string.Equals(configuration["DOTNET_RUNNING_IN_CONTAINER"], "true", StringComparison.OrdinalIgnoreCase);
    }
}
