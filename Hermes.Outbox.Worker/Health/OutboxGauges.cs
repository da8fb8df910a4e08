using System.Diagnostics.Metrics;
using Hermes.Outbox.Worker.Delivery;
using Polly.CircuitBreaker;

namespace Hermes.Outbox.Worker.Health;

/// <summary>
/// The worker's observable gauges on the <c>Hermes.Outbox</c> meter: pending rows, the oldest one's age and the failed rows (all
/// from one cached <see cref="OutboxBacklog"/> read) and the circuit state of this worker
/// (0 closed, 1 half-open, 2 open). Without a listener nothing is ever read.
/// </summary>
public sealed class OutboxGauges
{
    public const int Closed = 0;
    public const int HalfOpen = 1;
    public const int Open = 2;

    public OutboxGauges(IMeterFactory meterFactory, OutboxBacklog backlog, DeliveryState state)
    {
        // The factory hands out the same Meter instance as OutboxTelemetry's (same name, no version or tags).
        var meter = meterFactory.Create(OutboxTelemetry.Name);
        meter.CreateObservableGauge("hermes.outbox.pending", () => backlog.Current() is { } s ? [new Measurement<long>(s.PendingCount)] : Array.Empty<Measurement<long>>(),
            "{message}", "Outbox rows waiting for delivery (all workers).");
        meter.CreateObservableGauge("hermes.outbox.oldest_pending.age", () => backlog.Current() is { } s ? [new Measurement<double>(s.OldestPendingAgeSeconds)] : Array.Empty<Measurement<double>>(),
            "s", "Age of the oldest pending outbox row (0 when none).");
        meter.CreateObservableGauge("hermes.outbox.failed", () => backlog.Current() is { } s ? [new Measurement<long>(s.FailedCount)] : Array.Empty<Measurement<long>>(),
            "{message}", "Outbox rows given up (status failed, all workers); replay them once the cause is fixed.");
        meter.CreateObservableGauge("hermes.outbox.circuit.state", () => ToNumber(state.Circuit),
            "{state}", "This worker's circuit breaker towards the webhook: 0 closed, 1 half-open, 2 open.");
    }

    public static int ToNumber(CircuitState circuit) => circuit switch
    {
        CircuitState.Closed => Closed,
        CircuitState.HalfOpen => HalfOpen,
        _ => Open,
    };
}
