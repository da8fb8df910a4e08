using System.Diagnostics.Metrics;
using Hermes.Outbox.Worker.Delivery;
using Polly.CircuitBreaker;

namespace Hermes.Outbox.Worker.Health;

/// <summary>
/// The worker's observable gauges on the <c>Hermes.Outbox</c> meter: pending rows, the oldest one's age and the failed rows (all
/// from one cached <see cref="OutboxBacklog"/> read) and the circuit state of this worker, as OpenTelemetry's
/// semantic conventions model a state (as <c>hw.status</c> does): one series per state, its <c>state</c> attribute
/// naming it, 1 for the current one and 0 for the others, rather than one number whose meaning needs a legend.
/// Without a listener nothing is ever read.
/// </summary>
public sealed class OutboxGauges
{
    /// <summary>The gauge: <c>hermes_outbox_circuit_status{state="…"}</c> in Prometheus.</summary>
    public const string CircuitStatus = "hermes.outbox.circuit.status";

    /// <summary>The attribute that names the state of each series.</summary>
    public const string StateAttribute = "state";

    /// <summary>Every state reported, as <c>/health/n8n</c> names them; an isolated breaker (never used) reports open.</summary>
    public static readonly IReadOnlyList<string> States = ["closed", "half-open", "open"];

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
        meter.CreateObservableGauge(CircuitStatus, () => Status(state.Circuit),
            "{state}", "This worker's circuit breaker towards the webhook: 1 for its current state (attribute state: closed, half-open, open), 0 for the others.");
    }

    /// <summary>One measurement per state of <see cref="States"/>: 1 for <paramref name="circuit"/>'s, 0 for the others.</summary>
    public static Measurement<int>[] Status(CircuitState circuit)
    {
        var current = StateOf(circuit);
        return [.. States.Select(s => new Measurement<int>(s == current ? 1 : 0, new KeyValuePair<string, object?>(StateAttribute, s)))];
    }

    /// <summary>The state's name in <see cref="States"/>.</summary>
    public static string StateOf(CircuitState circuit) => circuit switch
    {
        CircuitState.Closed => "closed",
        CircuitState.HalfOpen => "half-open",
        _ => "open",
    };
}
