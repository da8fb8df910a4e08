using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Hermes.Outbox.Worker.Delivery;

/// <summary>The worker's ActivitySource and Meter, both named <c>Hermes.Outbox</c>.</summary>
public sealed class OutboxTelemetry
{
    public const string Name = "Hermes.Outbox";

    /// <summary>One span per delivery attempt, child of the submission's stored trace context.</summary>
    public static readonly ActivitySource ActivitySource = new(Name);

    public OutboxTelemetry(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Name);
        Deliveries = meter.CreateCounter<long>("hermes.outbox.deliveries", "{attempt}", "Delivery attempts by outcome (delivered, retry, failed).");
        DeliveryDuration = meter.CreateHistogram<double>("hermes.outbox.delivery.duration", "s", "Duration of one POST to the webhook.");
        MissingContactId = meter.CreateCounter<long>("hermes.outbox.missing_contact_id", "{delivery}", "Deliveries whose answer carried no Brevo contact id.");
        Attempts = meter.CreateHistogram<int>("hermes.outbox.delivery.attempts", "{attempt}", "Attempts a message took until it was delivered or given up (tag outcome).");
        Claimed = meter.CreateCounter<long>("hermes.outbox.claimed", "{message}", "Rows claimed.");
        Released = meter.CreateCounter<long>("hermes.outbox.released", "{message}", "Claims undone without an attempt (shutdown, open circuit).");
    }

    public Counter<long> Deliveries { get; }

    public Histogram<double> DeliveryDuration { get; }

    public Counter<long> MissingContactId { get; }

    public Histogram<int> Attempts { get; }

    public Counter<long> Claimed { get; }

    public Counter<long> Released { get; }
}
