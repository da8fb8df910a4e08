using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Hermes.Outbox.Worker.Delivery;
using Microsoft.Extensions.DependencyInjection;

namespace Hermes.Tests.Worker;

public sealed class TelemetryTests : WorkerTest
{
    [Test]
    public async Task Deliveries_are_counted_by_outcome_on_the_Hermes_Outbox_meter()
    {
        Receiver.AnswerInTurn(WebhookReceiver.Json(500, null), WebhookReceiver.Json(200, """{"ok": true}"""));
        var counts = new ConcurrentDictionary<string, long>();
        IMeterFactory? factory = null;
        using var listener = new MeterListener
        {
            InstrumentPublished = static (instrument, l) =>
            {
                if (instrument.Meter.Name == OutboxTelemetry.Name)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            // Only this test's host: other hosts in the process have meters of the same name.
            if (!ReferenceEquals(instrument.Meter.Scope, Volatile.Read(ref factory)))
            {
                return;
            }

            var outcome = tags.ToArray().FirstOrDefault(static t => t.Key == "outcome").Value as string;
            counts.AddOrUpdate(outcome is null ? instrument.Name : $"{instrument.Name}:{outcome}", value, (_, old) => old + value);
        });
        listener.Start();
        await using var worker = await StartWorkerAsync(new Dictionary<string, string?> { ["Outbox:PollInterval"] = "00:01:00" });
        Volatile.Write(ref factory, worker.Services.GetRequiredService<IMeterFactory>());
        await WaitUntilAsync(() => Task.FromResult(worker.State.Listening), "the listener is connected");

        var (_, message) = await InsertLeadAsync();
        await WaitForOutboxStatusAsync(message.Id, "delivered");

        Assert.That(counts.GetValueOrDefault("hermes.outbox.deliveries:retry"), Is.EqualTo(1));
        Assert.That(counts.GetValueOrDefault("hermes.outbox.deliveries:delivered"), Is.EqualTo(1));
        Assert.That(counts.GetValueOrDefault("hermes.outbox.missing_contact_id"), Is.EqualTo(1));
        Assert.That(counts.GetValueOrDefault("hermes.outbox.claimed"), Is.EqualTo(2));
    }
    [Test]
    public async Task Commit_to_delivery_latency_is_recorded_once_per_delivered_row_from_its_created_at()
    {
        Receiver.AnswerInTurn(WebhookReceiver.Json(500, null), WebhookReceiver.Json(200, """{"brevoContactId": 4711}"""));
        var (_, message) = await InsertLeadAsync();
        // Committed 90 s ago by the database's clock: the worker was down, say.
        await ExecuteAsync("UPDATE hermes_outbox SET created_at = now() - interval '90 seconds' WHERE id = $1", message.Id);
        var latencies = new ConcurrentQueue<(object? Scope, double Seconds)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = static (instrument, l) =>
            {
                if (instrument.Meter.Name == OutboxTelemetry.Name && instrument.Name == "hermes.outbox.delivery.latency")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => latencies.Enqueue((instrument.Meter.Scope, value)));
        listener.Start();
        var started = System.Diagnostics.Stopwatch.StartNew();
        await using var worker = await StartWorkerAsync();

        await WaitForOutboxStatusAsync(message.Id, "delivered");

        // Only this test's host: other hosts in the process have meters of the same name.
        var factory = worker.Services.GetRequiredService<IMeterFactory>();
        var recorded = latencies.Where(l => ReferenceEquals(l.Scope, factory)).Select(static l => l.Seconds).ToList();
        Assert.That(Receiver.Count, Is.EqualTo(2), "a retry, then the delivery");
        Assert.That(recorded, Has.Count.EqualTo(1), "recorded at the delivery only, not at the retry");
        Assert.That(recorded[0], Is.InRange(90, 90 + started.Elapsed.TotalSeconds + 1), "from created_at to the successful answer");
    }
}
