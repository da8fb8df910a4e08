using System.Diagnostics;
using Hermes.Persistence;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Hermes.Persistence.Hosting;

/// <summary>What one look at the database found. Never carries the connection string or a server message.</summary>
public sealed record DatabaseProbeResult(
    bool Reachable,
    double LatencyMs,
    string? SchemaVersion,
    string LatestMigration,
    int PendingMigrations,
    int MinPoolSize,
    int MaxPoolSize,
    string? Error)
{
    public bool SchemaCurrent => Reachable && PendingMigrations == 0;
}

/// <summary>
/// Opens a pooled connection, runs <c>SELECT 1</c> (the latency) and reads the applied migrations on it
/// (<see cref="MigrationHistory"/>: no EF Core on a path every health probe takes). Failures are reported by kind
/// (the exception's type and SQLSTATE), never by message, because Npgsql's messages name hosts.
/// </summary>
public sealed class DatabaseProbe(NpgsqlDataSource dataSource)
{
    public async Task<DatabaseProbeResult> ProbeAsync(CancellationToken cancellationToken)
    {
        var settings = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString);
        var all = MigrationHistory.All;
        var clock = Stopwatch.StartNew();
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using (var command = new NpgsqlCommand("SELECT 1", connection))
            {
                await command.ExecuteScalarAsync(cancellationToken);
            }

            var latency = clock.Elapsed.TotalMilliseconds;
            var applied = await MigrationHistory.AppliedAsync(connection, cancellationToken);
            var pending = all.Except(applied, StringComparer.Ordinal).Count();
            return new(true, Math.Round(latency, 2), applied.Count > 0 ? applied[^1] : null, all[^1], pending, settings.MinPoolSize, settings.MaxPoolSize, null);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            var kind = e is PostgresException postgres ? $"{e.GetType().Name} {postgres.SqlState}" : e.GetType().Name;
            return new(false, Math.Round(clock.Elapsed.TotalMilliseconds, 2), null, all[^1], 0, settings.MinPoolSize, settings.MaxPoolSize, "Database unreachable (" + kind + ")");
        }
    }
}

/// <summary>Healthy when the database answers and, with <paramref name="requireCurrentSchema"/>, no migration is pending.</summary>
public sealed class DatabaseHealthCheck(DatabaseProbe probe, bool requireCurrentSchema) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var result = await probe.ProbeAsync(cancellationToken);
        var data = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["reachable"] = result.Reachable,
            ["latencyMs"] = result.LatencyMs,
        };
        if (!result.Reachable)
        {
            return HealthCheckResult.Unhealthy(result.Error, data: data);
        }

        data["schemaVersion"] = result.SchemaVersion ?? "";
        data["pendingMigrations"] = result.PendingMigrations;
        if (requireCurrentSchema && !result.SchemaCurrent)
        {
            return HealthCheckResult.Unhealthy($"{result.PendingMigrations} migration(s) not applied; run 'hermes migrate'.", data: data);
        }

        return HealthCheckResult.Healthy("Database reachable.", data);
    }
}
