using Hermes.Outbox.Worker.Delivery;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Hermes.Outbox.Worker.Health;

/// <summary>
/// Can this worker write what its deliveries did? Unhealthy once it gave up (<see cref="DeliveryState.FatalError"/>:
/// it is stopping with a non-zero exit code); degraded while writes fail and are retried. On <c>/health/live</c> as
/// well as <c>/health/ready</c>: a worker that cannot record outcomes would only send the same rows again.
/// </summary>
public sealed class OutcomeWriterHealthCheck(DeliveryState state, OutcomeCompleter completer) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["queued"] = completer.Queued,
            ["capacity"] = completer.Capacity,
            ["failingSince"] = state.WriterFailingSince is { } since ? since : null!,
        };
        if (state.FatalError is { } fatal)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("The worker cannot write delivery outcomes and is stopping: " + fatal, data: data));
        }

        return Task.FromResult(state.WriterFailingSince is not null
            ? HealthCheckResult.Degraded("Writing delivery outcomes fails; retrying.", data: data)
            : HealthCheckResult.Healthy("Outcomes are written.", data));
    }
}
