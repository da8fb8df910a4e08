using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Hermes.ServiceDefaults;

/// <summary>Health endpoints shared by both hosts: each answers JSON with the environment's name; 503 when unhealthy.</summary>
public static class HealthEndpoints
{
    public const string ReadyTag = "ready";

    /// <summary>Checks that say the process itself is broken and should be restarted (none in the API).</summary>
    public const string LiveTag = "live";

    /// <summary>
    /// <c>/health/live</c> (the checks tagged <see cref="LiveTag"/>; none: the process answers), <c>/health/ready</c>
    /// (the checks tagged <see cref="ReadyTag"/>) and the Prometheus scrape endpoint <c>/metrics</c>, all on the
    /// management port when the host has one (<see cref="ManagementOptions"/>).
    /// </summary>
    public static IEndpointRouteBuilder MapHermesLiveAndReady(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/health/live", Options(static check => check.Tags.Contains(LiveTag))).OnManagementPort();
        app.MapHealthChecks("/health/ready", Options(static check => check.Tags.Contains(ReadyTag))).OnManagementPort();
        app.MapHermesMetrics();
        return app;
    }

    public static HealthCheckOptions Options(Func<HealthCheckRegistration, bool> predicate) => new()
    {
        Predicate = predicate,
        ResponseWriter = WriteAsync,
        ResultStatusCodes =
        {
            [HealthStatus.Healthy] = StatusCodes.Status200OK,
            [HealthStatus.Degraded] = StatusCodes.Status200OK,
            [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
        },
    };

    /// <summary>
    /// <c>{status, environment, durationMs, checks: {name: {status, description, durationMs, ...data}}}</c>. Exceptions
    /// are never written: their messages can name hosts and users.
    /// </summary>
    public static async Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        var environment = context.RequestServices.GetRequiredService<IHostEnvironment>().EnvironmentName;
        await using var json = new Utf8JsonWriter(context.Response.Body);
        json.WriteStartObject();
        json.WriteString("status", report.Status.ToString());
        json.WriteString("environment", environment);
        json.WriteNumber("durationMs", Math.Round(report.TotalDuration.TotalMilliseconds, 2));
        json.WriteStartObject("checks");
        foreach (var (name, entry) in report.Entries)
        {
            json.WriteStartObject(name);
            json.WriteString("status", entry.Status.ToString());
            if (entry.Description is { } description)
            {
                json.WriteString("description", description);
            }

            json.WriteNumber("durationMs", Math.Round(entry.Duration.TotalMilliseconds, 2));
            foreach (var (key, value) in entry.Data)
            {
                WriteValue(json, key, value);
            }

            json.WriteEndObject();
        }

        json.WriteEndObject();
        json.WriteEndObject();
        await json.FlushAsync(context.RequestAborted);
    }

    internal static void WriteValue(Utf8JsonWriter json, string key, object? value)
    {
        switch (value)
        {
            case null:
                json.WriteNull(key);
                break;
            case bool b:
                json.WriteBoolean(key, b);
                break;
            case int i:
                json.WriteNumber(key, i);
                break;
            case long l:
                json.WriteNumber(key, l);
                break;
            case double d:
                json.WriteNumber(key, d);
                break;
            case DateTimeOffset t:
                json.WriteString(key, t);
                break;
            default:
                json.WriteString(key, value.ToString());
                break;
        }
    }
}
