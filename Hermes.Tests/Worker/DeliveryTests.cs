using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Hermes.Domain;
using Hermes.Persistence.Outbox;
using Microsoft.EntityFrameworkCore;

namespace Hermes.Tests.Worker;

/// <summary>One worker, one receiver: what is sent, and what is recorded for each kind of answer.</summary>
public sealed class DeliveryTests : WorkerTest
{
    private const string Traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    [Test]
    public async Task Delivery_records_every_tracking_column_and_sends_signed_standard_webhook_headers()
    {
        Receiver.Behaviour = static (_, context) => WebhookReceiver.Json(200, """{"success": true, "brevoContactId": "brevo-4711", "note": "ok"}""")(context);
        var (lead, message) = await InsertLeadAsync(Traceparent);
        var before = DateTimeOffset.UtcNow;
        await using var worker = await StartWorkerAsync(new Dictionary<string, string?>
        {
            ["Webhook:AuthHeaderName"] = "X-Hermes-Key",
            ["Webhook:AuthHeaderValue"] = "header-auth-value",
        });

        await WaitForOutboxStatusAsync(message.Id, "delivered");

        var request = (await Receiver.WaitForAsync(1)).Single();
        Assert.That(request.Method, Is.EqualTo("POST"));
        Assert.That(request.Path, Is.EqualTo("/webhook/hermes-leads"));
        Assert.That(request.Header("Content-Type"), Is.EqualTo("application/json; charset=utf-8"));
        Assert.That(JsonNode.DeepEquals(JsonNode.Parse(request.Body), JsonNode.Parse(message.Payload)), Is.True, "the body is the frozen payload");
        var webhookId = WebhookPayload.MessageIdFor(lead.LeadId);
        Assert.That(request.WebhookId, Is.EqualTo(webhookId));
        Assert.That(request.Header("Idempotency-Key"), Is.EqualTo(webhookId));
        Assert.That(request.Header("Hermes-Attempt"), Is.EqualTo("1"));
        Assert.That(request.Header("X-Hermes-Key"), Is.EqualTo("header-auth-value"));
        var timestamp = long.Parse(request.Header("webhook-timestamp")!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(timestamp, Is.InRange(before.ToUnixTimeSeconds() - 1, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1));
        Assert.That(request.Header("webhook-signature"), Is.EqualTo(SpecSignature(WorkerUnderTest.Secret, webhookId, timestamp, request.Body)));
        var traceparent = request.Header("traceparent");
        Assert.That(traceparent, Does.StartWith("00-0af7651916cd43dd8448eb211c80319c-"), "the submission's trace continues");
        Assert.That(traceparent, Does.Not.Contain("b7ad6b7169203331"), "as a child span of the stored one");

        await using var db = CreateContext();
        var stored = await db.Leads.AsNoTracking().SingleAsync(l => l.BackupId == lead.BackupId);
        Assert.That(stored.Status, Is.EqualTo(LeadStatus.Forwarded.ToDatabase()));
        Assert.That(stored.N8nSuccess, Is.True);
        Assert.That(stored.BrevoContactId, Is.EqualTo("brevo-4711"));
        Assert.That(stored.N8nErrorMessage, Is.Null);
        Assert.That(stored.N8nWebhookSentAt, Is.Not.Null.And.GreaterThanOrEqualTo(before.AddSeconds(-1)));
        Assert.That(stored.N8nResponseReceivedAt, Is.GreaterThanOrEqualTo(stored.N8nWebhookSentAt!.Value));
        Assert.That(stored.ProcessedAt, Is.EqualTo(stored.N8nResponseReceivedAt));
        Assert.That(JsonNode.DeepEquals(JsonNode.Parse(stored.N8nResponseData!), JsonNode.Parse("""{"success": true, "brevoContactId": "brevo-4711", "note": "ok"}""")), Is.True);

        var outbox = await db.Outbox.AsNoTracking().SingleAsync(o => o.Id == message.Id);
        Assert.That(outbox.Status, Is.EqualTo(OutboxStatus.Delivered));
        Assert.That(outbox.DeliveredAt, Is.EqualTo(stored.N8nResponseReceivedAt));
        Assert.That(outbox.Attempts, Is.EqualTo(1));
        Assert.That(outbox.LastStatusCode, Is.EqualTo(200));
        Assert.That(outbox.LastError, Is.Null);
        Assert.That(outbox.LockedBy, Is.EqualTo(worker.WorkerId));

        var attempt = await db.DeliveryAttempts.AsNoTracking().SingleAsync(a => a.OutboxId == message.Id);
        Assert.That(attempt.BackupId, Is.EqualTo(lead.BackupId));
        Assert.That(attempt.AttemptNumber, Is.EqualTo(1));
        Assert.That(attempt.Outcome, Is.EqualTo(DeliveryOutcomes.Delivered));
        Assert.That(attempt.StatusCode, Is.EqualTo(200));
        Assert.That(attempt.StartedAt, Is.EqualTo(stored.N8nWebhookSentAt));
        Assert.That(attempt.DurationMs, Is.GreaterThanOrEqualTo(0));
        Assert.That(attempt.WorkerId, Is.EqualTo(worker.WorkerId));
        Assert.That(attempt.ResponseExcerpt, Does.Contain("brevo-4711"));
        Assert.That(worker.State.LastSuccessAt, Is.Not.Null);
        Assert.That(worker.State.ConsecutiveFailures, Is.Zero);
    }

    [Test]
    public async Task Numeric_contact_id_under_another_field_name_is_stored_as_text()
    {
        Receiver.Behaviour = static (_, context) => WebhookReceiver.Json(200, """[{"contactId": 90210, "email": "ada@example.com"}]""")(context);
        var (lead, message) = await InsertLeadAsync();
        await using var worker = await StartWorkerAsync();

        await WaitForOutboxStatusAsync(message.Id, "delivered");

        Assert.That(await ScalarAsync<string>("SELECT brevo_contact_id FROM hermes_leads WHERE id = $1", lead.BackupId), Is.EqualTo("90210"));
        Assert.That(worker.State.DeliveredWithoutContactId, Is.Zero);
    }

    [Test]
    public async Task Garbage_answer_is_a_delivery_kept_as_raw_text_and_counted_as_missing_a_contact_id()
    {
        var garbage = new byte[] { 0x3c, 0x68, 0x74, 0x6d, 0x6c, 0x3e, 0x00, 0xff, 0xfe, 0x7b, 0x22, 0x69, 0x64 };
        Receiver.Behaviour = (_, context) => WebhookReceiver.Bytes(200, garbage, "text/html")(context);
        var (lead, message) = await InsertLeadAsync();
        await using var worker = await StartWorkerAsync();

        await WaitForOutboxStatusAsync(message.Id, "delivered");

        var data = JsonNode.Parse(await ScalarAsync<string>("SELECT n8n_response_data::text FROM hermes_leads WHERE id = $1", lead.BackupId))!;
        Assert.That(data["raw"]!.GetValue<string>(), Does.StartWith("<html>"));
        Assert.That(data["truncated"]!.GetValue<bool>(), Is.False);
        Assert.That(await ScalarAsync<string?>("SELECT brevo_contact_id FROM hermes_leads WHERE id = $1", lead.BackupId), Is.Null);
        Assert.That(await ScalarAsync<bool>("SELECT n8n_success FROM hermes_leads WHERE id = $1", lead.BackupId), Is.True);
        Assert.That(worker.State.DeliveredWithoutContactId, Is.EqualTo(1));
        Assert.That(worker.Log.Count(static e => e.EventId == 4004), Is.EqualTo(1), "the missing contact id is logged");
    }

    [Test]
    public async Task Empty_answer_and_oversized_answer_are_deliveries_with_capped_data()
    {
        var big = "{\"id\": \"" + new string('x', 100_000) + "\"}";
        Receiver.AnswerInTurn(WebhookReceiver.Json(200, null), WebhookReceiver.Json(200, big));
        var rows = await InsertLeadsAsync(2);
        await using var worker = await StartWorkerAsync(new Dictionary<string, string?> { ["Outbox:BatchSize"] = "2", ["Outbox:Concurrency"] = "1", ["Webhook:MaxResponseBytes"] = "1024" });

        await WaitForAllDeliveredAsync(2);

        var first = await ScalarAsync<string?>("SELECT n8n_response_data::text FROM hermes_leads WHERE id = $1", rows[0].Lead.BackupId);
        Assert.That(first, Is.Null, "an empty answer stores no data");
        var second = JsonNode.Parse(await ScalarAsync<string>("SELECT n8n_response_data::text FROM hermes_leads WHERE id = $1", rows[1].Lead.BackupId))!;
        Assert.That(second["truncated"]!.GetValue<bool>(), Is.True);
        Assert.That(second["raw"]!.GetValue<string>(), Has.Length.EqualTo(1024));
        Assert.That(worker.State.DeliveredWithoutContactId, Is.EqualTo(2));
    }

    [Test]
    public async Task Server_error_then_success_is_retried_after_backoff_with_the_same_webhook_id()
    {
        Receiver.AnswerInTurn(WebhookReceiver.Json(500, """{"message": "Workflow could not be started"}"""), WebhookReceiver.Json(200, """{"id": 7}"""));
        var (lead, message) = await InsertLeadAsync();
        await using var worker = await StartWorkerAsync();

        await WaitForOutboxStatusAsync(message.Id, "delivered");

        var requests = Receiver.Requests;
        Assert.That(requests, Has.Count.EqualTo(2));
        Assert.That(requests.Select(static r => r.WebhookId).Distinct().Count(), Is.EqualTo(1));
        Assert.That(requests.Select(static r => r.Attempt), Is.EqualTo(new[] { 1, 2 }));
        await using var db = CreateContext();
        var attempts = await db.DeliveryAttempts.AsNoTracking().Where(a => a.OutboxId == message.Id).OrderBy(a => a.AttemptNumber).ToListAsync();
        Assert.That(attempts.Select(static a => a.Outcome), Is.EqualTo(new[] { DeliveryOutcomes.Retry, DeliveryOutcomes.Delivered }));
        Assert.That(attempts[0].StatusCode, Is.EqualTo(500));
        Assert.That(attempts[0].Error, Does.StartWith("HTTP 500"));
        Assert.That(attempts[0].ResponseExcerpt, Does.Contain("Workflow could not be started"));
        Assert.That(attempts[1].StartedAt, Is.GreaterThanOrEqualTo(attempts[0].StartedAt.AddMilliseconds(attempts[0].DurationMs)));
        var stored = await db.Leads.AsNoTracking().SingleAsync(l => l.BackupId == lead.BackupId);
        Assert.That(stored.N8nSuccess, Is.True);
        Assert.That(stored.N8nErrorMessage, Is.Null, "the success clears the earlier error");
        Assert.That(stored.BrevoContactId, Is.EqualTo("7"));
        var outbox = await db.Outbox.AsNoTracking().SingleAsync(o => o.Id == message.Id);
        Assert.That(outbox.Attempts, Is.EqualTo(2));
        Assert.That(outbox.LastStatusCode, Is.EqualTo(200));
    }

    [Test]
    public async Task Retry_is_sent_when_its_backoff_ends_not_at_the_next_poll()
    {
        Receiver.AnswerInTurn(WebhookReceiver.Json(502, null), WebhookReceiver.Json(200, """{"id": 1}"""));
        var (_, message) = await InsertLeadAsync();
        await using var worker = await StartWorkerAsync(new Dictionary<string, string?> { ["Outbox:PollInterval"] = "00:01:00" });

        await WaitForOutboxStatusAsync(message.Id, "delivered", TimeSpan.FromSeconds(10));

        var requests = Receiver.Requests;
        Assert.That(requests[1].ReceivedAt - requests[0].ReceivedAt, Is.LessThan(TimeSpan.FromSeconds(10)), "the 100 ms backoff, not the one-minute poll");
    }

    [Test]
    public async Task Failed_attempt_records_the_error_on_the_lead_and_schedules_the_next_by_the_retry_schedule()
    {
        Receiver.Behaviour = static (_, context) => WebhookReceiver.Json(503, "n8n is restarting", "text/plain")(context);
        var (lead, message) = await InsertLeadAsync();
        await using var worker = await StartWorkerAsync(new Dictionary<string, string?>
        {
            ["Outbox:BaseDelay"] = "00:10:00",
            ["Outbox:MaxDelay"] = "00:10:00",
        });

        await WaitUntilAsync(async () => await ScalarAsync<long>("SELECT count(*) FROM hermes_delivery_attempts") == 1, "one attempt is logged");

        await using var db = CreateContext();
        var outbox = await db.Outbox.AsNoTracking().SingleAsync(o => o.Id == message.Id);
        Assert.That(outbox.Status, Is.EqualTo(OutboxStatus.Pending));
        Assert.That(outbox.Attempts, Is.EqualTo(1));
        Assert.That(outbox.LastStatusCode, Is.EqualTo(503));
        Assert.That(outbox.LastError, Does.StartWith("HTTP 503").And.Contain("n8n is restarting"));
        var delay = await ScalarAsync<double>("SELECT extract(epoch FROM available_at - now()) FROM hermes_outbox WHERE id = $1", message.Id);
        Assert.That(delay, Is.LessThanOrEqualTo(600), "at most the first retry's ceiling (BaseDelay)");
        var stored = await db.Leads.AsNoTracking().SingleAsync(l => l.BackupId == lead.BackupId);
        Assert.That(stored.N8nSuccess, Is.False);
        Assert.That(stored.N8nErrorMessage, Does.StartWith("HTTP 503"));
        Assert.That(stored.Status, Is.EqualTo(LeadStatus.Queued.ToDatabase()));
        Assert.That(worker.State.ConsecutiveFailures, Is.EqualTo(1));
    }

    [Test]
    public async Task Hanging_receiver_times_out_and_the_row_is_retried()
    {
        Receiver.AnswerInTurn(WebhookReceiver.Hang(), WebhookReceiver.Json(200, """{"brevoContactId": 1}"""));
        var (_, message) = await InsertLeadAsync();
        // A second long enough that the answering receiver is never cut off too on a busy machine (at 300 ms it was,
        // and a third POST followed).
        await using var worker = await StartWorkerAsync(new Dictionary<string, string?> { ["Outbox:RequestTimeout"] = "00:00:01" });

        await WaitForOutboxStatusAsync(message.Id, "delivered");

        await using var db = CreateContext();
        var first = await db.DeliveryAttempts.AsNoTracking().SingleAsync(a => a.OutboxId == message.Id && a.AttemptNumber == 1);
        Assert.That(first.Outcome, Is.EqualTo(DeliveryOutcomes.Retry));
        Assert.That(first.StatusCode, Is.Null);
        Assert.That(first.Error, Does.Contain("request timeout"));
        Assert.That(first.DurationMs, Is.InRange(990, 6000));
        Assert.That(Receiver.Count, Is.EqualTo(2));
    }

    [Test]
    public async Task Dropped_connection_is_a_failed_attempt_and_the_row_is_retried()
    {
        Receiver.AnswerInTurn(WebhookReceiver.Drop(), WebhookReceiver.Json(200, """{"brevoContactId": 1}"""));
        var (_, message) = await InsertLeadAsync();
        await using var worker = await StartWorkerAsync();

        await WaitForOutboxStatusAsync(message.Id, "delivered");

        var error = await ScalarAsync<string>("SELECT error FROM hermes_delivery_attempts WHERE outbox_id = $1 AND attempt_number = 1", message.Id);
        Assert.That(error, Does.StartWith("No answer"));
        Assert.That(await ScalarAsync<int>("SELECT attempts FROM hermes_outbox WHERE id = $1", message.Id), Is.EqualTo(2));
    }

    [Test]
    public async Task Refused_connection_fails_the_row_after_the_last_attempt()
    {
        using var closed = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        closed.Start();
        var port = ((System.Net.IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        var (lead, message) = await InsertLeadAsync();
        await using var worker = await StartWorkerAsync(new Dictionary<string, string?> { ["Outbox:MaxAttempts"] = "3" }, webhook: new Uri($"http://127.0.0.1:{port}/webhook"));

        await WaitForOutboxStatusAsync(message.Id, "failed");

        await using var db = CreateContext();
        var attempts = await db.DeliveryAttempts.AsNoTracking().Where(a => a.OutboxId == message.Id).OrderBy(a => a.AttemptNumber).ToListAsync();
        Assert.That(attempts.Select(static a => a.Outcome), Is.EqualTo(new[] { DeliveryOutcomes.Retry, DeliveryOutcomes.Retry, DeliveryOutcomes.Failed }));
        Assert.That(attempts.Select(static a => a.StatusCode), Is.All.Null);
        Assert.That(attempts[0].Error, Does.Contain("refused").IgnoreCase);
        var outbox = await db.Outbox.AsNoTracking().SingleAsync(o => o.Id == message.Id);
        Assert.That(outbox.Attempts, Is.EqualTo(3));
        Assert.That(outbox.LastError, Does.Contain("refused").IgnoreCase);
        Assert.That(outbox.DeliveredAt, Is.Null);
        var stored = await db.Leads.AsNoTracking().SingleAsync(l => l.BackupId == lead.BackupId);
        Assert.That(stored.Status, Is.EqualTo(LeadStatus.DeliveryFailed.ToDatabase()));
        Assert.That(stored.N8nSuccess, Is.False);
        Assert.That(stored.N8nErrorMessage, Does.Contain("refused").IgnoreCase);
        Assert.That(stored.ProcessedAt, Is.Null);
    }

    [Test]
    public async Task Last_attempt_failing_marks_the_row_failed_and_the_lead_delivery_failed()
    {
        Receiver.Behaviour = static (_, context) => WebhookReceiver.Json(500, "boom", "text/plain")(context);
        var (lead, message) = await InsertLeadAsync();
        await using var worker = await StartWorkerAsync(new Dictionary<string, string?> { ["Outbox:MaxAttempts"] = "3" });

        await WaitForOutboxStatusAsync(message.Id, "failed");

        // No attempt after the last: the failed row is one no worker can claim any more, whatever the time.
        var store = new OutboxStore(DataSource);
        Assert.That(await store.ClaimAsync(10, TimeSpan.FromMinutes(1), "another-worker", CancellationToken.None), Is.Empty, "the failed row is not claimable");
        Assert.That(Receiver.Count, Is.EqualTo(3), "no attempt after the last");
        Assert.That(await ScalarAsync<int>("SELECT attempts FROM hermes_outbox WHERE id = $1", message.Id), Is.EqualTo(3));
        Assert.That(Receiver.Requests.Select(static r => r.Attempt), Is.EqualTo(new[] { 1, 2, 3 }));
        Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_leads WHERE id = $1", lead.BackupId), Is.EqualTo(LeadStatus.DeliveryFailed.ToDatabase()));
        Assert.That(await ScalarAsync<string>("SELECT n8n_error_message FROM hermes_leads WHERE id = $1", lead.BackupId), Is.EqualTo("HTTP 500 Internal Server Error: boom"));
        Assert.That(await ScalarAsync<int>("SELECT last_status_code FROM hermes_outbox WHERE id = $1", message.Id), Is.EqualTo(500));
        Assert.That(await ScalarAsync<string>("SELECT string_agg(outcome, ',' ORDER BY attempt_number) FROM hermes_delivery_attempts WHERE outbox_id = $1", message.Id), Is.EqualTo("retry,retry,failed"));
    }

    [Test]
    public async Task Gone_fails_the_row_at_once()
    {
        Receiver.Behaviour = static (_, context) => WebhookReceiver.Json(410, """{"code": 410, "message": "webhook not registered"}""")(context);
        var (lead, message) = await InsertLeadAsync();
        await using var worker = await StartWorkerAsync();

        await WaitForOutboxStatusAsync(message.Id, "failed");

        Assert.That(Receiver.Count, Is.EqualTo(1));
        Assert.That(await ScalarAsync<int>("SELECT attempts FROM hermes_outbox WHERE id = $1", message.Id), Is.EqualTo(1));
        Assert.That(await ScalarAsync<int>("SELECT last_status_code FROM hermes_outbox WHERE id = $1", message.Id), Is.EqualTo(410));
        Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_leads WHERE id = $1", lead.BackupId), Is.EqualTo(LeadStatus.DeliveryFailed.ToDatabase()));
        Assert.That(await ScalarAsync<string>("SELECT outcome FROM hermes_delivery_attempts WHERE outbox_id = $1", message.Id), Is.EqualTo(DeliveryOutcomes.Failed));
    }

    [Test]
    public async Task Too_many_requests_waits_for_retry_after()
    {
        Receiver.AnswerInTurn(WebhookReceiver.Json(429, null, headers: ("Retry-After", "1")), WebhookReceiver.Json(200, """{"brevoContactId": 1}"""));
        var (_, message) = await InsertLeadAsync();
        await using var worker = await StartWorkerAsync();

        await WaitForOutboxStatusAsync(message.Id, "delivered");

        var requests = Receiver.Requests;
        var waited = TimeSpan.FromSeconds((double)(requests[1].ReceivedTicks - requests[0].ReceivedTicks) / System.Diagnostics.Stopwatch.Frequency);
        Assert.That(waited, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(950)), "Retry-After: 1 beats the 100 ms backoff");
        Assert.That(await ScalarAsync<int>("SELECT status_code FROM hermes_delivery_attempts WHERE outbox_id = $1 AND attempt_number = 1", message.Id), Is.EqualTo(429));
    }

    [Test]
    public async Task Replayed_row_gets_a_new_webhook_id_so_the_receiver_does_not_drop_it_as_a_duplicate()
    {
        var (lead, message) = await InsertLeadAsync(replayCount: 2);
        await using var worker = await StartWorkerAsync();

        await WaitForOutboxStatusAsync(message.Id, "delivered");

        var request = Receiver.Requests.Single();
        Assert.That(request.WebhookId, Is.EqualTo($"msg_{lead.LeadId}_r2"));
        Assert.That(request.Header("Idempotency-Key"), Is.EqualTo($"msg_{lead.LeadId}_r2"));
        Assert.That(JsonNode.Parse(request.Body)!["id"]!.GetValue<string>(), Is.EqualTo($"msg_{lead.LeadId}"), "the frozen payload is unchanged");
    }

    [Test]
    public async Task Rotating_secrets_sends_one_signature_per_secret()
    {
        var second = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var (_, message) = await InsertLeadAsync();
        await using var worker = await StartWorkerAsync(new Dictionary<string, string?> { ["HERMES_WEBHOOK_SECRET"] = $"{WorkerUnderTest.Secret} {second}" });

        await WaitForOutboxStatusAsync(message.Id, "delivered");

        var request = Receiver.Requests.Single();
        var timestamp = long.Parse(request.Header("webhook-timestamp")!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(request.Header("webhook-signature")!.Split(' '), Is.EqualTo(new[]
        {
            SpecSignature(WorkerUnderTest.Secret, request.WebhookId, timestamp, request.Body),
            SpecSignature(second, request.WebhookId, timestamp, request.Body),
        }));
    }

    [Test]
    public async Task Without_a_secret_requests_go_out_unsigned_and_the_log_says_so()
    {
        var (_, message) = await InsertLeadAsync();
        await using var worker = await StartWorkerAsync(new Dictionary<string, string?> { ["HERMES_WEBHOOK_SECRET"] = "" });

        await WaitForOutboxStatusAsync(message.Id, "delivered");

        Assert.That(Receiver.Requests.Single().Header("webhook-signature"), Is.Null);
        Assert.That(worker.Log.Count(static e => e.EventId == 4042), Is.EqualTo(1));
    }

    /// <summary>The Standard Webhooks algorithm, written out here independently of the worker's signer.</summary>
    internal static string SpecSignature(string secret, string id, long timestamp, string body)
    {
        var key = Convert.FromBase64String(secret["whsec_".Length..]);
        var mac = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}"));
        return "v1," + Convert.ToBase64String(mac);
    }
}
