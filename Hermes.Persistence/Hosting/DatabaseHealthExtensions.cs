using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Hermes.Persistence.Hosting;

/// <summary>
/// The database's part of a web host's health: a check for readiness (the database answers and its schema is at the
/// latest migration: a host on an old schema must not take traffic), its gauges, and the seed's
/// <c>/api/health/database</c>. The host maps <c>/health/live</c> and <c>/health/ready</c> itself (ServiceDefaults), and
/// puts <c>/api/health/database</c> where it wants it (on its management port: the endpoint shows the schema version,
/// pool bounds and the probe's error, so it is internal like <c>/health/ready</c>).
/// </summary>
public static class DatabaseHealthExtensions
{
    /// <summary>Registers the probe, the gauges (under <paramref name="meterName"/>) and the readiness check, tagged <paramref name="readyTag"/>.</summary>
    public static IHostApplicationBuilder AddHermesDatabaseHealth(this IHostApplicationBuilder builder, string readyTag, string meterName)
    {
        HealthOptions.Register(builder.Services);
        builder.Services.AddSingleton<DatabaseProbe>();
        builder.Services.AddHermesDatabaseGauges(meterName, includeSize: false);
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            "database",
            static sp => new DatabaseHealthCheck(sp.GetRequiredService<DatabaseProbe>(), requireCurrentSchema: true),
            HealthStatus.Unhealthy,
            [readyTag],
            builder.Configuration.GetValue($"{HealthOptions.Section}:{nameof(HealthOptions.Timeout)}", new HealthOptions().Timeout)));
        return builder;
    }

    /// <summary>Maps the seed's <c>/api/health/database</c>, out of the OpenAPI document (which describes what the website may call).</summary>
    public static RouteHandlerBuilder MapHermesDatabaseHealth(this IEndpointRouteBuilder app) =>
        app.MapGet("/api/health/database", DatabaseAsync)
            .WithName("DatabaseHealth")
            .ExcludeFromDescription();

    private static async Task<IResult> DatabaseAsync(DatabaseProbe probe, IHostEnvironment environment, IOptions<HealthOptions> options, HttpContext http)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        timeout.CancelAfter(options.Value.Timeout);
        var result = await probe.ProbeAsync(timeout.Token);
        var status = !result.Reachable ? "unhealthy" : result.SchemaCurrent ? "healthy" : "degraded";
        var body = new DatabaseHealth(
            status,
            environment.EnvironmentName,
            DateTimeOffset.UtcNow,
            result.LatencyMs,
            result.Reachable,
            result.SchemaVersion,
            result.LatestMigration,
            result.PendingMigrations,
            new PoolSettings(result.MinPoolSize, result.MaxPoolSize),
            result.Error);
        http.Response.Headers.CacheControl = "no-store";
        return TypedResults.Json(body, HealthJsonContext.Default.DatabaseHealth, statusCode: result.SchemaCurrent ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }
}

/// <summary>The answer of <c>/api/health/database</c>. <c>status</c>: healthy, degraded (migrations pending) or unhealthy.</summary>
public sealed record DatabaseHealth(
    string Status,
    string Environment,
    DateTimeOffset Timestamp,
    double LatencyMs,
    bool Reachable,
    string? SchemaVersion,
    string LatestMigration,
    int PendingMigrations,
    PoolSettings Pool,
    string? Error);

/// <summary>The connection pool's configured bounds (Npgsql publishes live pool figures as the <c>Npgsql</c> meter's <c>db.client.connection.count</c>).</summary>
public sealed record PoolSettings(int MinPoolSize, int MaxPoolSize);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web)]
[System.Text.Json.Serialization.JsonSerializable(typeof(DatabaseHealth))]
internal sealed partial class HealthJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
