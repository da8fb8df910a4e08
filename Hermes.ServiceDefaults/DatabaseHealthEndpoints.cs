using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Hermes.ServiceDefaults;

/// <summary>
/// <c>/health/live</c> (the process answers), <c>/health/ready</c> (the database answers and its schema is at the
/// latest migration: an API on an old schema must not take traffic), the seed's <c>/api/health/database</c> and
/// <c>/metrics</c>; all on the management port when the host has one (<see cref="ManagementOptions"/>), the rest of
/// the host's routes then off it.
/// </summary>
public static class ApiHealthExtensions
{
    public static WebApplicationBuilder AddHermesHealth(this WebApplicationBuilder builder)
    {
        HealthOptions.Register(builder.Services);
        builder.Services.AddHermesManagementPort();
        builder.Services.AddSingleton<DatabaseProbe>();
        builder.Services.AddHermesDatabaseGauges("Hermes.Api", includeSize: false);
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            "database",
            static sp => new DatabaseHealthCheck(sp.GetRequiredService<DatabaseProbe>(), requireCurrentSchema: true),
            HealthStatus.Unhealthy,
            [HealthEndpoints.ReadyTag],
            builder.Configuration.GetValue($"{HealthOptions.Section}:{nameof(HealthOptions.Timeout)}", new HealthOptions().Timeout)));
        return builder;
    }

    public static WebApplication MapHermesHealth(this WebApplication app)
    {
        app.MapHermesLiveAndReady();
        // Internal like /health/ready (schema version, pool bounds, the probe's error): on the management port, and
        // out of the OpenAPI document, which describes what the website may call.
        app.MapGet("/api/health/database", DatabaseAsync)
            .WithName("DatabaseHealth")
            .ExcludeFromDescription()
            .OnManagementPort();
        return app;
    }

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
