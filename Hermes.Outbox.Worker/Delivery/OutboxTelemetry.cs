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
        DeliveryDuration = meter.CreateHistogram<double>("hermes.outbox.delivery.duration", "s", "Duration of one POST to the webhook.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = PostBuckets });
        DeliveryLatency = meter.CreateHistogram<double>("hermes.outbox.delivery.latency", "s",
            "From the lead's commit (the outbox row's created_at) to n8n's successful answer; a replayed row counts from its first commit.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        MissingContactId = meter.CreateCounter<long>("hermes.outbox.missing_contact_id", "{delivery}", "Deliveries whose answer carried no Brevo contact id.");
        Attempts = meter.CreateHistogram<int>("hermes.outbox.delivery.attempts", "{attempt}", "Attempts a message took until it was delivered or given up (tag outcome).");
        Claimed = meter.CreateCounter<long>("hermes.outbox.claimed", "{message}", "Rows claimed.");
        Released = meter.CreateCounter<long>("hermes.outbox.released", "{message}", "Claims undone without an attempt (shutdown, open circuit).");
        AutoRecovered = meter.CreateCounter<long>("hermes.outbox.auto_recovered", "{message}", "Failed rows replayed by the automatic recovery after an outage (Outbox:AutoRecover).");
    }

    // Seconds. A POST ends within Outbox:RequestTimeout (15 s by default); the default OpenTelemetry boundaries
    // (0, 5, 10, 25, ... 10000) suit milliseconds and would put every delivery into the first two buckets.
    private static readonly double[] PostBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 15, 30];

    // Seconds, from sub-second (a worker listening for NOTIFY) to a day (n8n down overnight).
    private static readonly double[] LatencyBuckets = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 14400, 86400];

    public Counter<long> Deliveries { get; }

    public Histogram<double> DeliveryDuration { get; }

    public Histogram<double> DeliveryLatency { get; }

    public Counter<long> MissingContactId { get; }

    public Histogram<int> Attempts { get; }

    public Counter<long> Claimed { get; }

    public Counter<long> Released { get; }

    public Counter<long> AutoRecovered { get; }
}
