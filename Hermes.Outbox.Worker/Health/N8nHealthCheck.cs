using Hermes.Outbox.Worker.Delivery;
using Hermes.Persistence.Hosting;
using Hermes.ServiceDefaults;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Polly.CircuitBreaker;

namespace Hermes.Outbox.Worker.Health;

/// <summary>
/// Is delivery to n8n keeping up? Unhealthy when this worker's circuit is open (n8n looks down) or the oldest
/// pending row has waited longer than <see cref="HealthOptions.MaxPendingAge"/> (the backlog is stuck, whatever
/// the cause), or when the backlog cannot be read. Failures below the circuit's threshold are data, not a verdict.
/// </summary>
public sealed class N8nHealthCheck(DeliveryState state, OutboxBacklog backlog, IOptions<HealthOptions> options) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var circuit = state.Circuit;
        var data = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            // Null (written as JSON null) until the first success or failure.
            ["lastSuccessAt"] = state.LastSuccessAt is { } success ? success : null!,
            ["lastFailureAt"] = state.LastFailureAt is { } failure ? failure : null!,
            ["consecutiveFailures"] = state.ConsecutiveFailures,
            ["circuit"] = CircuitName(circuit),
            ["maxPendingAgeSeconds"] = options.Value.MaxPendingAge.TotalSeconds,
        };
        if (state.CircuitOpenUntil is { } until)
        {
            data["circuitOpenUntil"] = until;
        }

        var snapshot = await backlog.CurrentAsync(cancellationToken);
        if (snapshot is not null)
        {
            data["pendingCount"] = snapshot.PendingCount;
            data["oldestPendingAgeSeconds"] = Math.Round(snapshot.OldestPendingAgeSeconds, 1);
        }

        if (circuit == CircuitState.Open || circuit == CircuitState.Isolated)
        {
            return HealthCheckResult.Unhealthy("The circuit towards n8n is open: the webhook looks down.", data: data);
        }

        if (snapshot is null)
        {
            return HealthCheckResult.Unhealthy("The outbox backlog cannot be read: the database is unreachable.", data: data);
        }

        if (snapshot.OldestPendingAgeSeconds > options.Value.MaxPendingAge.TotalSeconds)
        {
            return HealthCheckResult.Unhealthy($"The oldest pending row has waited longer than Health:MaxPendingAge ({options.Value.MaxPendingAge}).", data: data);
        }

        return HealthCheckResult.Healthy("Deliveries are keeping up.", data);
    }

    public static string CircuitName(CircuitState circuit) => circuit switch
    {
        CircuitState.Closed => "closed",
        CircuitState.HalfOpen => "half-open",
        CircuitState.Isolated => "isolated",
        _ => "open",
    };
}
