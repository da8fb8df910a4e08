using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Hermes.Domain;
using Hermes.Outbox.Worker.Delivery;
using Hermes.Persistence.Operations;
using Microsoft.AspNetCore.Http;

namespace Hermes.Tests.Worker;

/// <summary>
/// Erasure that reaches the CRM, through the real worker and a loopback receiver: an erase queues a signed
/// <c>lead.erased</c> message in its own statement, the worker delivers it like any outbox row, and the lead records
/// the CRM's confirmation only when the answer says <c>"erased": true</c>. The same against real n8n and the Brevo
/// stand-in: <c>Hermes.Tests/N8n/CrmErasureInN8nTests</c>.
/// </summary>
public sealed class CrmErasureTests : WorkerTest
{
    private const string Confirmation = """{"erased": true, "brevoContactId": "4711", "alreadyGone": false, "contract": 2}""";

    private static bool IsErasure(ReceivedRequest request) =>
        JsonNode.Parse(request.Body)!["type"]!.GetValue<string>() == OutboxMessage.LeadErasedType;

    /// <summary>Answers like the shipped workflow: a contact id to a lead, <c>"erased": true</c> to an erasure.</summary>
    private void AnswerLikeTheWorkflow(Func<ReceivedRequest, HttpContext, Task>? submitted = null)
    {
        var lead = submitted ?? (static (_, context) => WebhookReceiver.Json(200, """{"brevoContactId": 4711}""")(context));
        Receiver.Behaviour = (request, context) => IsErasure(request) ? WebhookReceiver.Json(200, Confirmation)(context) : lead(request, context);
    }

    private Task<ErasureResult> EraseAsync(string leadId) =>
        new LeadErasure(DataSource).EraseAsync(new ErasureRequest(null, leadId), CancellationToken.None);

    private Task<string?> CrmStateAsync(long backupId) =>
        ScalarAsync<string?>("SELECT crm_erasure_state FROM hermes_leads WHERE id = $1", backupId);

    private Task WaitForCrmStateAsync(long backupId, string state) =>
        WaitUntilAsync(async () => await CrmStateAsync(backupId) == state, $"lead {backupId}'s CRM erasure is {state}", TimeSpan.FromSeconds(20));

    private Task<long> ErasureRowsAsync(long backupId) =>
        ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE lead_id = $1 AND type = 'lead.erased'", backupId);

    [Test]
    public async Task An_erase_queues_a_signed_lead_erased_message_without_personal_data_and_the_worker_records_the_CRMs_confirmation()
    {
        AnswerLikeTheWorkflow();
        await using var worker = await StartWorkerAsync();
        var (lead, message) = await InsertLeadAsync();
        await WaitForOutboxStatusAsync(message.Id, "delivered");

        var result = await EraseAsync(lead.LeadId);

        Assert.That(result.Leads.Single().CrmErasure, Is.EqualTo(CrmErasureStateNames.Queued));
        await WaitForCrmStateAsync(lead.BackupId, CrmErasureStateNames.Confirmed);
        var erasedAt = await ScalarAsync<DateTime>("SELECT erased_at FROM hermes_leads WHERE id = $1", lead.BackupId);
        var confirmedAt = await ScalarAsync<DateTime>("SELECT crm_erased_at FROM hermes_leads WHERE id = $1", lead.BackupId);
        Assert.That(confirmedAt, Is.GreaterThanOrEqualTo(erasedAt));
        Assert.That(await ScalarAsync<string>("SELECT status || '|' || brevo_contact_id || '|' || coalesce(n8n_response_data::text, '-') FROM hermes_leads WHERE id = $1", lead.BackupId),
            Is.EqualTo("erased|4711|-"), "the erasure's answer touches only the CRM erasure columns");

        var row = await ScalarAsync<string>("SELECT status || '|' || attempts || '|' || payload::text FROM hermes_outbox WHERE lead_id = $1 AND type = 'lead.erased'", lead.BackupId);
        var parts = row.Split('|', 3);
        Assert.That(parts[..2], Is.EqualTo(new[] { "delivered", "1" }));
        var payload = ErasurePayload.FromJson(parts[2]);
        Assert.That(payload with { ErasedAt = default }, Is.EqualTo(new ErasurePayload(
            "lead.erased", 1, $"msg_{lead.LeadId}_erased", lead.LeadId, lead.BackupId, "4711", default)));
        Assert.That(payload.ErasedAt.UtcDateTime, Is.EqualTo(erasedAt).Within(TimeSpan.FromMilliseconds(1)));
        Assert.That(JsonNode.Parse(parts[2])!.AsObject().Select(static p => p.Key),
            Is.EquivalentTo(new[] { "type", "version", "id", "leadId", "backupId", "brevoContactId", "erasedAt" }), "ids and a time, nothing about the person");

        var sent = Receiver.Requests.Single(IsErasure);
        Assert.That(sent.WebhookId, Is.EqualTo($"msg_{lead.LeadId}_erased"));
        Assert.That(sent.Body, Is.EqualTo(parts[2]), "the frozen payload, as it is stored");
        Assert.That(sent.Body, Does.Not.Contain("example.com").And.Not.Contain("Ada"));
        Assert.That(WebhookSigner.TryDecodeSecret(WorkerUnderTest.Secret, out var key), Is.True);
        var timestamp = long.Parse(sent.Header("webhook-timestamp")!, CultureInfo.InvariantCulture);
        Assert.That(sent.Header("webhook-signature"), Is.EqualTo(WebhookSigner.Sign(sent.WebhookId, timestamp, Encoding.UTF8.GetBytes(sent.Body), [key])));
        Assert.That(sent.Header("Idempotency-Key"), Is.EqualTo(sent.WebhookId));

        var details = (await new LeadHistory(DataSource).FindAsync(lead.LeadId, CancellationToken.None))!;
        Assert.That(details.CrmErasureState, Is.EqualTo("confirmed"));
        Assert.That(details.CrmErasedAt?.UtcDateTime, Is.EqualTo(confirmedAt).Within(TimeSpan.FromMilliseconds(1)));
        Assert.That(details.Outbox.Select(static o => (o.Type, o.Status)), Is.EqualTo(new[] { ("lead.submitted", "delivered"), ("lead.erased", "delivered") }));
        Assert.That(details.DeliveryAttempts.Select(static a => (a.StatusCode, a.Outcome)), Is.EqualTo(new[] { ((int?)200, "delivered"), (200, "delivered") }));
    }

    [Test]
    public async Task A_2xx_without_erased_true_does_not_confirm_the_erasure_and_the_reason_is_recorded()
    {
        // The default receiver answers every message with a contact id: a receiver that never heard of lead.erased.
        await using var worker = await StartWorkerAsync(new Dictionary<string, string?> { ["Outbox:MaxAttempts"] = "2" });
        var (lead, message) = await InsertLeadAsync();
        await WaitForOutboxStatusAsync(message.Id, "delivered");

        await EraseAsync(lead.LeadId);

        await WaitForCrmStateAsync(lead.BackupId, CrmErasureStateNames.Failed);
        Assert.That(await ScalarAsync<string>("SELECT status || '|' || attempts || '|' || last_status_code FROM hermes_outbox WHERE lead_id = $1 AND type = 'lead.erased'", lead.BackupId),
            Is.EqualTo("failed|2|200"));
        Assert.That(await ScalarAsync<string>("SELECT last_error FROM hermes_outbox WHERE lead_id = $1 AND type = 'lead.erased'", lead.BackupId),
            Does.Contain("n8n answered 200 without \"erased\": true").And.Contain("webhook contract 2"));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_delivery_attempts a JOIN hermes_outbox o ON o.id = a.outbox_id WHERE o.type = 'lead.erased' AND a.outcome IN ('retry', 'failed') AND a.error LIKE '%without \"erased\": true%'"),
            Is.EqualTo(2), "an erasure's attempts keep their reason, though the lead is erased");
        Assert.That(await ScalarAsync<DateTime?>("SELECT crm_erased_at FROM hermes_leads WHERE id = $1", lead.BackupId), Is.Null);
        Assert.That(worker.Log.Select(static e => e.Message), Has.Some.Contains("n8n answered 2xx without \"erased\": true"), "the log names the reason, not a worker error");
    }

    [Test]
    public async Task A_receiver_that_does_not_know_lead_erased_answers_422_and_Hermes_records_the_failure_with_its_error()
    {
        Receiver.Behaviour = (request, context) => IsErasure(request)
            ? WebhookReceiver.Json(422, """{"error": "unknown event type lead.erased: this workflow handles lead.submitted"}""")(context)
            : WebhookReceiver.Json(200, """{"brevoContactId": 4711}""")(context);
        await using var worker = await StartWorkerAsync(new Dictionary<string, string?> { ["Outbox:MaxAttempts"] = "1" });
        var (lead, message) = await InsertLeadAsync();
        await WaitForOutboxStatusAsync(message.Id, "delivered");

        await EraseAsync(lead.LeadId);

        await WaitForCrmStateAsync(lead.BackupId, CrmErasureStateNames.Failed);
        var details = (await new LeadHistory(DataSource).FindAsync(lead.LeadId, CancellationToken.None))!;
        var erasure = details.Outbox.Single(static o => o.Type == OutboxMessage.LeadErasedType);
        Assert.That((erasure.Status, erasure.LastStatusCode), Is.EqualTo(("failed", (int?)422)));
        Assert.That(erasure.LastError, Does.Contain("422").And.Contain("unknown event type lead.erased"));
        Assert.That(details.DeliveryAttempts.Last().Error, Does.Contain("unknown event type lead.erased"));
        Assert.That(details.CrmErasureState, Is.EqualTo("failed"));
    }

    [Test]
    public async Task Erasing_a_lead_whose_delivery_is_in_flight_queues_the_erasure_when_its_late_contact_id_arrives()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        AnswerLikeTheWorkflow(async (_, context) =>
        {
            await release.Task;
            await WebhookReceiver.Json(200, """{"brevoContactId": 4711}""")(context);
        });
        await using var worker = await StartWorkerAsync(new Dictionary<string, string?> { ["Outbox:RequestTimeout"] = "00:00:08" });
        var (lead, _) = await InsertLeadAsync();
        await Receiver.WaitForAsync(1);

        var result = await EraseAsync(lead.LeadId);

        Assert.That(result.Leads.Single().InFlightDeliveries, Is.EqualTo(1));
        Assert.That(result.Leads.Single().CrmErasure, Is.EqualTo(CrmErasureStateNames.AwaitingDelivery));
        Assert.That(await CrmStateAsync(lead.BackupId), Is.EqualTo(CrmErasureStateNames.AwaitingDelivery));
        Assert.That(await ErasureRowsAsync(lead.BackupId), Is.Zero, "no contact id yet: nothing to erase");

        release.SetResult();

        await WaitForCrmStateAsync(lead.BackupId, CrmErasureStateNames.Confirmed);
        Assert.That(await ScalarAsync<string>("SELECT brevo_contact_id FROM hermes_leads WHERE id = $1", lead.BackupId), Is.EqualTo("4711"));
        Assert.That(await ErasureRowsAsync(lead.BackupId), Is.EqualTo(1));
        var erasure = Receiver.Requests.Single(IsErasure);
        Assert.That(JsonNode.Parse(erasure.Body)!["brevoContactId"]!.GetValue<string>(), Is.EqualTo("4711"), "the late contact id is the one erased");
    }

    [Test]
    public async Task An_erased_leads_in_flight_delivery_that_fails_leaves_no_contact_id_to_erase()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        AnswerLikeTheWorkflow(async (_, context) =>
        {
            await release.Task;
            await WebhookReceiver.Json(503, """{"error": "Brevo did not accept the contact"}""")(context);
        });
        await using var worker = await StartWorkerAsync(new Dictionary<string, string?> { ["Outbox:RequestTimeout"] = "00:00:08" });
        var (lead, message) = await InsertLeadAsync();
        await Receiver.WaitForAsync(1);
        await EraseAsync(lead.LeadId);

        release.SetResult();

        await WaitForCrmStateAsync(lead.BackupId, CrmErasureStateNames.NoContactId);
        Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_outbox WHERE id = $1", message.Id), Is.EqualTo("cancelled"));
        Assert.That(await ErasureRowsAsync(lead.BackupId), Is.Zero);
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_delivery_attempts WHERE outbox_id = $1", message.Id), Is.EqualTo(1));
    }

    [Test]
    public async Task Erasing_a_lead_that_never_reached_Brevo_or_reached_it_without_a_contact_id_queues_no_erasure()
    {
        var leads = await InsertLeadsAsync(2);
        var (waiting, delivered) = (leads[0].Lead, leads[1].Lead);
        await ExecuteAsync("UPDATE hermes_leads SET n8n_success = true, status = 'forwarded' WHERE id = $1", delivered.BackupId);
        await ExecuteAsync("UPDATE hermes_outbox SET status = 'delivered', delivered_at = now() WHERE lead_id = $1", delivered.BackupId);

        var first = await EraseAsync(waiting.LeadId);
        var second = await EraseAsync(delivered.LeadId);

        Assert.That(first.Leads.Single().CrmErasure, Is.EqualTo(CrmErasureStateNames.NotNeeded));
        Assert.That(second.Leads.Single().CrmErasure, Is.EqualTo(CrmErasureStateNames.NoContactId));
        Assert.That(await CrmStateAsync(waiting.BackupId), Is.EqualTo("not_needed"));
        Assert.That(await CrmStateAsync(delivered.BackupId), Is.EqualTo("no_contact_id"));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE type = 'lead.erased'"), Is.Zero);
    }
}
