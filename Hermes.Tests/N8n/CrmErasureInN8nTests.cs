using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Hermes.Outbox.Worker.Delivery;
using Hermes.Tests.Api;
using Hermes.Tests.Deploy;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Operations;
using Hermes.Tests.Worker;

namespace Hermes.Tests.N8n;

/// <summary>
/// Erasure that reaches the CRM, end to end: a lead submitted to Hermes' API, delivered by the real worker through the
/// shipped workflow in a real n8n to the Brevo stand-in, then erased (CLI or admin API); the worker delivers the
/// <c>lead.erased</c> message, the workflow deletes the contact, and Hermes records the CRM's confirmation. Each test
/// asserts on Hermes' database, on what the stand-in got and on what n8n answered.
/// </summary>
public sealed class CrmErasureInN8nTests : OperationsTest, IAsyncDisposable
{
    private const string AdminKey = "n8n-tier-erasure-admin-key-0123456789";
    private RealN8n _n8n = null!;
    private BrevoStandIn _brevo = null!;
    private HermesApiFactory? _api;
    private HermesAdminFactory? _admin;
    private HttpClient _client = null!;
    private HttpClient _adminClient = null!;

    [OneTimeSetUp]
    public void StartApi()
    {
        _api = new HermesApiFactory(ConnectionString);
        _client = _api.CreateApiClient();
        _admin = new HermesAdminFactory(ConnectionString, AdminKey);
        _adminClient = _admin.CreateApiClient();
        _adminClient.DefaultRequestHeaders.Add("X-Api-Key", AdminKey);
    }

    [OneTimeTearDown]
    public async Task StopApiAsync() => await DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        _client?.Dispose();
        _adminClient?.Dispose();
        if (_api is not null)
        {
            await _api.DisposeAsync();
            _api = null;
        }

        if (_admin is not null)
        {
            await _admin.DisposeAsync();
            _admin = null;
        }
    }

    [SetUp]
    public async Task StartN8nAsync() => (_n8n, _brevo) = await N8nTier.StartAsync();

    [TearDown]
    public void LeaveN8n() => N8nTier.EndTest();

    private Task<WorkerUnderTest> StartWorkerAsync(params (string Key, string? Value)[] overrides)
    {
        var settings = new Dictionary<string, string?>
        {
            ["HERMES_WEBHOOK_SECRET"] = _n8n.Secret,
            ["Webhook:AuthHeaderName"] = RealN8n.AuthHeaderName,
            ["Webhook:AuthHeaderValue"] = _n8n.AuthHeaderValue,
            ["Outbox:RequestTimeout"] = new OutboxOptions().RequestTimeout.ToString(),
            ["Outbox:Lease"] = "00:01:00",
            ["Outbox:BaseDelay"] = "00:00:00.200",
            ["Outbox:MaxDelay"] = "00:00:00.500",
        };
        foreach (var (key, value) in overrides)
        {
            settings[key] = value;
        }

        return WorkerUnderTest.StartAsync(ConnectionString, _n8n.WebhookUrl, settings);
    }

    private static string NewEmail() => $"erase.{Guid.NewGuid():N}@example.com";

    private async Task<string> SubmitAsync(string email)
    {
        using var response = await _client.PostAsJsonAsync("/api/leads", TestData.ValidForm(email));
        var text = await response.Content.ReadAsStringAsync();
        Assert.That((int)response.StatusCode, Is.EqualTo(201), text);
        return JsonNode.Parse(text)!["leadId"]!.GetValue<string>();
    }

    private Task WaitForLeadAsync(string leadId, string status) =>
        WaitUntilAsync(async () => await ScalarAsync<string>("SELECT status FROM hermes_leads WHERE lead_id = $1", leadId) == status, $"lead {leadId} is {status}", TimeSpan.FromSeconds(30));

    private Task WaitForCrmAsync(string leadId, string state) =>
        WaitUntilAsync(async () => await ScalarAsync<string?>("SELECT crm_erasure_state FROM hermes_leads WHERE lead_id = $1", leadId) == state,
            $"lead {leadId}'s CRM erasure is {state}", TimeSpan.FromSeconds(30));

    private async Task<string> DeliveredContactIdAsync(string email)
    {
        var leadId = await SubmitAsync(email);
        await WaitForLeadAsync(leadId, "forwarded");
        var contactId = _brevo.Contact(email)?.Id.ToString(CultureInfo.InvariantCulture);
        Assert.That(contactId, Is.Not.Null, "Brevo has the contact");
        Assert.That(await ScalarAsync<string>("SELECT brevo_contact_id FROM hermes_leads WHERE lead_id = $1", leadId), Is.EqualTo(contactId));
        return leadId;
    }

    private async Task EraseAsync(string leadId)
    {
        var run = await CliAsync("erase", "--yes", "--lead", leadId);
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
    }

    /// <summary>The erasure row's attempts, in order: (status code, outcome, response excerpt, error).</summary>
    private async Task<List<(int? Status, string Outcome, string? Excerpt, string? Error)>> ErasureAttemptsAsync(string leadId)
    {
        await using var command = DataSource.CreateCommand("""
            SELECT a.status_code, a.outcome, a.response_excerpt, a.error
            FROM hermes_delivery_attempts a JOIN hermes_outbox o ON o.id = a.outbox_id JOIN hermes_leads l ON l.id = a.lead_id
            WHERE l.lead_id = $1 AND o.type = 'lead.erased' ORDER BY a.id
            """);
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = leadId });
        await using var reader = await command.ExecuteReaderAsync();
        var attempts = new List<(int?, string, string?, string?)>();
        while (await reader.ReadAsync())
        {
            attempts.Add((reader.IsDBNull(0) ? null : reader.GetInt32(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3)));
        }

        return attempts;
    }

    [Test]
    public async Task A_lead_delivered_through_n8n_then_erased_has_its_Brevo_contact_deleted_and_the_confirmation_recorded()
    {
        await using var worker = await StartWorkerAsync();
        var email = NewEmail();
        var leadId = await DeliveredContactIdAsync(email);
        var contactId = _brevo.Contact(email)!.Id.ToString(CultureInfo.InvariantCulture);

        await EraseAsync(leadId);

        await WaitForCrmAsync(leadId, "confirmed");
        Assert.That(_brevo.Contact(email), Is.Null, "the contact is gone from Brevo");
        var deletes = _brevo.DeletesOf(contactId);
        Assert.That(deletes.Select(static d => (d.Status, d.Query)), Is.EqualTo(new[] { (204, "?identifierType=contact_id") }));
        Assert.That(deletes[0].ApiKey, Is.EqualTo(_brevo.ApiKey));
        var attempt = (await ErasureAttemptsAsync(leadId)).Single();
        Assert.That((attempt.Status, attempt.Outcome), Is.EqualTo(((int?)200, "delivered")));
        var answer = JsonNode.Parse(attempt.Excerpt!)!;
        Assert.That(answer["erased"]!.GetValue<bool>(), Is.True);
        Assert.That(answer["alreadyGone"]!.GetValue<bool>(), Is.False);
        Assert.That(answer["brevoContactId"]!.GetValue<string>(), Is.EqualTo(contactId));
        Assert.That(answer["contract"]!.GetValue<int>(), Is.EqualTo(2));
        Assert.That(await ScalarAsync<DateTime?>("SELECT crm_erased_at FROM hermes_leads WHERE lead_id = $1", leadId), Is.Not.Null);
        Assert.That(await ScalarAsync<string>("SELECT o.status FROM hermes_outbox o JOIN hermes_leads l ON l.id = o.lead_id WHERE l.lead_id = $1 AND o.type = 'lead.erased'", leadId), Is.EqualTo("delivered"));
    }

    [Test]
    public async Task A_contact_already_gone_from_Brevo_answers_404_and_the_erasure_is_confirmed()
    {
        await using var worker = await StartWorkerAsync();
        var email = NewEmail();
        var leadId = await DeliveredContactIdAsync(email);
        var contactId = _brevo.Contact(email)!.Id.ToString(CultureInfo.InvariantCulture);
        Assert.That(_brevo.Forget(email), Is.True, "someone deleted the contact in Brevo already");

        await EraseAsync(leadId);

        await WaitForCrmAsync(leadId, "confirmed");
        Assert.That(_brevo.DeletesOf(contactId).Select(static d => d.Status), Is.EqualTo(new[] { 404 }));
        var attempt = (await ErasureAttemptsAsync(leadId)).Single();
        Assert.That((attempt.Status, attempt.Outcome), Is.EqualTo(((int?)200, "delivered")));
        Assert.That(JsonNode.Parse(attempt.Excerpt!)!["alreadyGone"]!.GetValue<bool>(), Is.True);
    }

    [Test]
    public async Task Brevo_down_during_the_erasure_is_answered_502_and_Hermes_retries_until_the_contact_is_deleted()
    {
        await using var worker = await StartWorkerAsync();
        var email = NewEmail();
        var leadId = await DeliveredContactIdAsync(email);
        var contactId = _brevo.Contact(email)!.Id.ToString(CultureInfo.InvariantCulture);
        _brevo.FailNext(2, 503);

        await EraseAsync(leadId);

        await WaitForCrmAsync(leadId, "confirmed");
        var attempts = await ErasureAttemptsAsync(leadId);
        Assert.That(attempts.Select(static a => (a.Status, a.Outcome)), Is.EqualTo(new[] { ((int?)502, "retry"), (502, "retry"), (200, "delivered") }));
        Assert.That(attempts[0].Error, Does.Contain("502").And.Contain("Brevo did not erase the contact").And.Contain("503"), "the reason is kept: the erasure names no person");
        Assert.That(_brevo.DeletesOf(contactId).Select(static d => d.Status), Is.EqualTo(new[] { 503, 503, 204 }));
        Assert.That(_brevo.Contact(email), Is.Null);
    }

    [Test]
    public async Task Erasing_a_lead_while_its_delivery_is_in_flight_deletes_the_contact_its_late_answer_names()
    {
        await using var worker = await StartWorkerAsync();
        var email = NewEmail();
        _brevo.CreateDelay = TimeSpan.FromSeconds(3);
        var leadId = await SubmitAsync(email);
        await WaitUntilAsync(
            async () => await ScalarAsync<bool>("SELECT bool_or(o.locked_by IS NOT NULL AND o.available_at > now()) FROM hermes_outbox o JOIN hermes_leads l ON l.id = o.lead_id WHERE l.lead_id = $1", leadId),
            "the delivery is in flight", TimeSpan.FromSeconds(10));

        using var erase = await _adminClient.PostAsJsonAsync("/api/admin/leads/erase", new { leadId });
        var erased = JsonNode.Parse(await erase.Content.ReadAsStringAsync())!["leads"]![0]!;

        Assert.That(erase.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(erased["inFlightDeliveries"]!.GetValue<int>(), Is.EqualTo(1));
        Assert.That(erased["crmErasure"]!.GetValue<string>(), Is.EqualTo("awaiting_delivery"));
        await WaitForCrmAsync(leadId, "confirmed");
        var contactId = await ScalarAsync<string>("SELECT brevo_contact_id FROM hermes_leads WHERE lead_id = $1", leadId);
        Assert.That(contactId, Is.Not.Null, "the late answer's contact id is recorded on the erased lead");
        Assert.That(_brevo.RequestsFor(email).Select(static r => (r.Method, r.Status)), Is.EqualTo(new[] { ("POST", 201) }), "the delivery did create the contact");
        Assert.That(_brevo.DeletesOf(contactId).Select(static d => d.Status), Is.EqualTo(new[] { 204 }), "and the erasure deleted that contact");
        Assert.That(_brevo.Contact(email), Is.Null);
        var details = JsonNode.Parse(await _adminClient.GetStringAsync($"/api/leads/{leadId}"))!;
        Assert.That(details["crmErasureState"]!.GetValue<string>(), Is.EqualTo("confirmed"));
        Assert.That(details["crmErasedAt"], Is.Not.Null);
        Assert.That(details["formData"]!["email"]!.GetValue<string>(), Is.EqualTo("erased@erased.invalid"));
    }

    [Test]
    public async Task The_workflow_refuses_an_event_it_does_not_know_with_422_and_Hermes_records_the_failure_with_n8ns_error()
    {
        // Straight to n8n: a signed message of a type contract 2 does not have.
        const string body = """{"type":"lead.merged","version":1,"id":"msg_lead_merged0000000001","leadId":"lead_merged0000000001","backupId":1}""";
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, _n8n.WebhookUrl) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add("webhook-id", "msg_lead_merged0000000001");
        request.Headers.Add("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", N8nCodeNode.Sign(_n8n.Secret, "msg_lead_merged0000000001", timestamp, body));
        request.Headers.Add(RealN8n.AuthHeaderName, _n8n.AuthHeaderValue);
        using var http = new HttpClient();
        using var refused = await http.SendAsync(request);
        var refusal = await refused.Content.ReadAsStringAsync();
        Assert.That((int)refused.StatusCode, Is.EqualTo(422), refusal);
        Assert.That(refusal, Does.Contain("unknown event type lead.merged").And.Contain("webhook contract 2"));

        // Through Hermes: an erasure message of a payload version this workflow does not know.
        var email = NewEmail();
        string leadId;
        await using (var first = await StartWorkerAsync())
        {
            leadId = await DeliveredContactIdAsync(email);
        }

        await EraseAsync(leadId);
        await ExecuteAsync("UPDATE hermes_outbox SET payload = jsonb_set(payload, '{version}', '99') WHERE type = 'lead.erased' AND lead_id = (SELECT id FROM hermes_leads WHERE lead_id = $1)", leadId);
        await using var worker = await StartWorkerAsync(("Outbox:MaxAttempts", "1"));

        await WaitForCrmAsync(leadId, "failed");
        var row = await ScalarAsync<string>("SELECT o.status || '|' || o.last_status_code || '|' || o.last_error FROM hermes_outbox o JOIN hermes_leads l ON l.id = o.lead_id WHERE l.lead_id = $1 AND o.type = 'lead.erased'", leadId);
        Assert.That(row, Does.StartWith("failed|422|").And.Contain("lead.erased version 99 is unknown"));
        var details = JsonNode.Parse(await _adminClient.GetStringAsync($"/api/leads/{leadId}"))!;
        Assert.That(details["crmErasureState"]!.GetValue<string>(), Is.EqualTo("failed"));
        Assert.That(details["outbox"]!.AsArray().Single(static o => o!["type"]!.GetValue<string>() == "lead.erased")!["lastError"]!.GetValue<string>(), Does.Contain("version 99 is unknown"));
        Assert.That(_brevo.Contact(email), Is.Not.Null, "nothing was deleted");
        Assert.That(_brevo.DeletesOf(_brevo.Contact(email)!.Id.ToString(CultureInfo.InvariantCulture)), Is.Empty, "Brevo was never asked");
    }
}
