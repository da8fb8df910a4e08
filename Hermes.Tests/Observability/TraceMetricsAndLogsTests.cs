using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Hermes.Api.Telemetry;
using Hermes.Outbox.Worker.Delivery;
using Hermes.Outbox.Worker.Health;
using Hermes.Tests.Api;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Worker;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hermes.Tests.Observability;

/// <summary>
/// The API (WebApplicationFactory on Kestrel) and the worker host in this process, over one database, delivering
/// to a loopback receiver: one trace from request to receiver, exact metric values, and what the logs keep out.
/// </summary>
public sealed class TraceMetricsAndLogsTests : WorkerTest
{
    private static readonly string[] Sources = ["Microsoft.AspNetCore", "Hermes.Outbox", "Hermes.Api", "System.Net.Http", "Npgsql"];

    [Test]
    public async Task One_trace_spans_the_api_request_the_insert_the_delivery_and_the_receivers_traceparent()
    {
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = static source => Sources.Contains(source.Name),
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);

        await using var api = new HermesApiFactory(ConnectionString);
        using var client = api.CreateApiClient();
        using (var response = await client.PostAsJsonAsync("/api/leads", TestData.ValidForm(), JsonSerializerOptions.Web))
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        }

        var stored = await ScalarAsync<string>("SELECT traceparent FROM hermes_outbox");
        Assert.That(ActivityContext.TryParse(stored, null, out var submission), Is.True, $"traceparent stored on the row: {stored}");
        var traceId = submission.TraceId;

        await using var worker = await ObservedWorker.StartAsync(ConnectionString, Receiver.Url);
        var received = (await Receiver.WaitForAsync(1))[0];
        Assert.That(ActivityContext.TryParse(received.Header("traceparent"), null, out var atReceiver), Is.True, "the receiver saw a traceparent");
        // The listener hears every test in this process: wait for this trace's delivery span, not any worker's.
        await WaitUntilAsync(() => Task.FromResult(stopped.Any(a => a.OperationName == "hermes.outbox.deliver" && a.TraceId == traceId)), "the delivery span ends");

        var trace = stopped.Where(a => a.TraceId == traceId).ToList();
        var request = trace.SingleOrDefault(a => a.Source.Name == "Microsoft.AspNetCore" && a.SpanId == submission.SpanId);
        var delivery = trace.SingleOrDefault(static a => a.OperationName == "hermes.outbox.deliver");
        Assert.Multiple(() =>
        {
            Assert.That(atReceiver.TraceId, Is.EqualTo(traceId), "the receiver's traceparent continues the submission's trace");
            Assert.That(request, Is.Not.Null, "the API's request span is in the trace");
            Assert.That(trace.Any(static a => a.Source.Name == "Npgsql" && a.Parent?.Source.Name != "Hermes.Outbox"), Is.True, "the insert's Npgsql span is in the trace");
            Assert.That(delivery, Is.Not.Null, "the worker's delivery span is in the trace");
            Assert.That(delivery?.ParentSpanId, Is.EqualTo(submission.SpanId), "the delivery span is a child of the stored context");
            Assert.That(trace.Any(a => a.Source.Name == "System.Net.Http" && a.ParentSpanId == delivery?.SpanId), Is.True, "the outgoing POST is a child of the delivery span");
            Assert.That(stored, Does.StartWith("00-" + request?.TraceId.ToHexString()), "what the row keeps is the request's context");
        });
    }

    [Test]
    public async Task Metrics_count_a_known_sequence_of_submissions_and_deliveries_exactly()
    {
        var values = new ConcurrentDictionary<string, double>();
        var attempts = new ConcurrentQueue<(int Attempt, string Outcome)>();
        var durations = new ConcurrentQueue<(double Seconds, string Outcome)>();
        await using var api = new HermesApiFactory(ConnectionString);
        using var client = api.CreateApiClient();
        var apiMeter = api.Services.GetRequiredService<IMeterFactory>().Create(ApiTelemetry.Name);
        Meter? workerMeter = null;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name is ApiTelemetry.Name or OutboxTelemetry.Name)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        void Add<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (!ReferenceEquals(instrument.Meter, apiMeter) && !ReferenceEquals(instrument.Meter, workerMeter))
            {
                return;
            }

            var key = instrument.Name + string.Concat(tags.ToArray().Select(static t => $"|{t.Key}={t.Value}"));
            var number = Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture);
            if (instrument.Name == "hermes.outbox.delivery.duration")
            {
                durations.Enqueue((number, tags.ToArray().Single(static t => t.Key == "outcome").Value!.ToString()!));
            }

            if (instrument.Name == "hermes.outbox.delivery.attempts")
            {
                attempts.Enqueue(((int)number, tags.ToArray().Single(static t => t.Key == "outcome").Value!.ToString()!));
            }

            values.AddOrUpdate(key, number, (_, old) => instrument is ObservableGauge<long> or ObservableGauge<double> or ObservableGauge<int> ? number : old + number);
        }

        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Add(i, v, t));
        listener.SetMeasurementEventCallback<int>((i, v, t, _) => Add(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Add(i, v, t));
        listener.Start();

        // The worker first, and its meter known before any row is written: started after the submissions, it could deliver
        // row 1 before the test knew which meter was its own, and that measurement was lost (one CI run counted no retry).
        // One at a time, so the answers meet the rows in a known order: row 1 gets 500 (retried), row 2 gets
        // 410 (failed at once), row 3 gets 200, row 1 again gets 200 on its second attempt (after Outbox:BaseDelay).
        Receiver.AnswerInTurn(
            WebhookReceiver.Json(StatusCodes.Status500InternalServerError, null),
            WebhookReceiver.Json(StatusCodes.Status410Gone, null),
            WebhookReceiver.Json(StatusCodes.Status200OK, """{"brevoContactId": 1}"""));
        await using var worker = await ObservedWorker.StartAsync(ConnectionString, Receiver.Url, new Dictionary<string, string?>
        {
            ["Outbox:Concurrency"] = "1",
            ["Outbox:BatchSize"] = "1",
        });
        workerMeter = worker.Services.GetRequiredService<IMeterFactory>().Create(OutboxTelemetry.Name);

        // Three accepted (one of them under a key), one invalid, one not JSON, one key reused with another body.
        var form = TestData.ValidForm();
        foreach (var email in new[] { "one@example.com", "two@example.com" })
        {
            using var ok = await client.PostAsJsonAsync("/api/leads", form with { Email = email }, JsonSerializerOptions.Web);
            Assert.That(ok.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        }

        using (var keyed = new HttpRequestMessage(HttpMethod.Post, "/api/leads") { Content = JsonContent.Create(form, options: JsonSerializerOptions.Web) })
        {
            keyed.Headers.Add("Idempotency-Key", "key-1");
            using var ok = await client.SendAsync(keyed);
            Assert.That(ok.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        }

        using (var reused = new HttpRequestMessage(HttpMethod.Post, "/api/leads") { Content = JsonContent.Create(form with { Email = "other@example.com" }, options: JsonSerializerOptions.Web) })
        {
            reused.Headers.Add("Idempotency-Key", "key-1");
            using var conflict = await client.SendAsync(reused);
            Assert.That(conflict.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity));
        }

        using (var invalid = await client.PostAsJsonAsync("/api/leads", form with { Email = "not an email" }, JsonSerializerOptions.Web))
        {
            Assert.That(invalid.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        }

        using (var text = await client.PostAsync("/api/leads", new StringContent("hello")))
        {
            Assert.That(text.StatusCode, Is.EqualTo(HttpStatusCode.UnsupportedMediaType));
        }

        await WaitUntilAsync(async () => await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'pending'") == 0, "every row is delivered or failed");
        await WaitUntilAsync(() => Task.FromResult(attempts.Count == 3), "three final outcomes are measured");

        // A row that is not due yet, written a minute ago, for the gauges.
        await ExecuteAsync("""
            INSERT INTO hermes_outbox (lead_id, type, payload, status, attempts, available_at, created_at, replay_count)
            SELECT lead_id, type, payload, 'pending', 0, now() + interval '1 hour', now() - interval '60 seconds', 0 FROM hermes_outbox LIMIT 1
            """);
        listener.RecordObservableInstruments();

        var seen = string.Join("; ", values.Select(static v => $"{v.Key}={v.Value}"));
        Assert.Multiple(() =>
        {
            Assert.That(values.GetValueOrDefault("hermes.leads.accepted"), Is.EqualTo(3));
            Assert.That(values.GetValueOrDefault("hermes.leads.rejected|reason=validation"), Is.EqualTo(1));
            Assert.That(values.GetValueOrDefault("hermes.leads.rejected|reason=unsupported_media_type"), Is.EqualTo(1), seen);
            Assert.That(values.GetValueOrDefault("hermes.leads.rejected|reason=idempotency_conflict"), Is.EqualTo(1));
            Assert.That(values.GetValueOrDefault("hermes.outbox.deliveries|outcome=delivered"), Is.EqualTo(2));
            Assert.That(values.GetValueOrDefault("hermes.outbox.deliveries|outcome=retry"), Is.EqualTo(1));
            Assert.That(values.GetValueOrDefault("hermes.outbox.deliveries|outcome=failed"), Is.EqualTo(1));
            Assert.That(attempts.OrderBy(static a => a.Outcome).ThenBy(static a => a.Attempt), Is.EqualTo(new[] { (1, "delivered"), (2, "delivered"), (1, "failed") }));
            Assert.That(durations.Select(static d => d.Outcome).Order(), Is.EqualTo(new[] { "delivered", "delivered", "failed", "retry" }), "one duration per attempt, by outcome");
            Assert.That(durations.Select(static d => d.Seconds), Is.All.InRange(0.0, 30.0).And.Some.GreaterThan(0.0), "durations in seconds");
            Assert.That(values.GetValueOrDefault("hermes.outbox.pending"), Is.EqualTo(1));
            Assert.That(values.GetValueOrDefault("hermes.outbox.oldest_pending.age"), Is.InRange(59.0, 90.0));
            Assert.That(values.GetValueOrDefault("hermes.outbox.circuit.status|state=closed"), Is.EqualTo(1));
            Assert.That(values.GetValueOrDefault("hermes.outbox.circuit.status|state=open", -1), Is.Zero, "every state has its series");
        });
    }

    [Test]
    public async Task Both_gauges_share_one_query_within_the_cache_time()
    {
        await using var worker = await ObservedWorker.StartAsync(ConnectionString, Receiver.Url, new Dictionary<string, string?> { ["Health:PendingCacheDuration"] = "00:01:00" });
        var backlog = worker.Services.GetRequiredService<OutboxBacklog>();
        var meter = worker.Services.GetRequiredService<IMeterFactory>().Create(OutboxTelemetry.Name);
        var seen = 0;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter, meter) && instrument.Name.Contains("pending", StringComparison.Ordinal))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, _, _, _) => Interlocked.Increment(ref seen));
        listener.SetMeasurementEventCallback<double>((_, _, _, _) => Interlocked.Increment(ref seen));
        listener.Start();
        var before = backlog.Queries;
        listener.RecordObservableInstruments();
        listener.RecordObservableInstruments();
        using var health = await worker.Http.GetAsync("/health/n8n");
        Assert.Multiple(() =>
        {
            Assert.That(seen, Is.EqualTo(4), "two gauges, two collections");
            Assert.That(backlog.Queries - before, Is.LessThanOrEqualTo(1), "one statement for both gauges, both scrapes and the health check");
        });
    }

    [Test]
    public async Task Logs_of_a_submission_and_its_delivery_keep_out_personal_data_and_carry_lead_and_outbox_ids()
    {
        var apiLogs = new ScopeCapturingLogs();
        await using var api = new HermesApiFactory(ConnectionString, new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Debug" });
        using var client = api.CreateApiClient();
        api.Services.GetRequiredService<ILoggerFactory>().AddProvider(apiLogs);
        var form = TestData.ValidForm();
        using (var response = await client.PostAsJsonAsync("/api/leads", form, JsonSerializerOptions.Web))
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        }

        await using var worker = await ObservedWorker.StartAsync(ConnectionString, Receiver.Url);
        var outboxId = await ScalarAsync<long>("SELECT id FROM hermes_outbox");
        var leadId = await ScalarAsync<string>("SELECT lead_id FROM hermes_leads");
        await WaitForOutboxStatusAsync(outboxId, "delivered");
        await WaitUntilAsync(() => Task.FromResult(worker.Logs.Entries.Any(static e => e.EventId == 4001)), "the delivery is logged");

        // Every line, Debug included (both hosts log at Debug here): the lines per lead and per delivery are Debug.
        var visible = apiLogs.Entries.Concat(worker.Logs.Entries).ToList();
        var text = string.Join("\n", visible.Select(static e => e.Message + " " + string.Join(",", e.Scope.Values)));
        var delivered = worker.Logs.Entries.First(static e => e.EventId == 4001);
        Assert.Multiple(() =>
        {
            Assert.That(apiLogs.Entries.Any(static e => e.EventId == 3001), Is.True, "the API logged the stored lead");
            Assert.That(text, Does.Not.Contain(form.Email));
            Assert.That(text, Does.Not.Contain(form.PhoneNumber!));
            Assert.That(text, Does.Not.Contain("defaced"));
            Assert.That(text, Does.Not.Contain(form.LastName));
            Assert.That(delivered.Scope.GetValueOrDefault("LeadId"), Is.EqualTo(leadId));
            Assert.That(delivered.Scope.GetValueOrDefault("OutboxId"), Is.EqualTo(outboxId));
        });
    }
}
