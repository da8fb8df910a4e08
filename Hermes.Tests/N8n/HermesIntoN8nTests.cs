using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Hermes.Outbox.Worker.Delivery;
using Hermes.Tests.Api;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Operations;
using Hermes.Tests.Worker;

namespace Hermes.Tests.N8n;

/// <summary>
/// Leads submitted to Hermes' real API, delivered by Hermes' real worker into the shipped workflow in a real n8n,
/// and on to the Brevo stand-in. Every test asserts on Hermes' database (lead, outbox row, attempt log), on what
/// n8n answered and remembered, and on what Brevo got.
/// </summary>
public sealed class HermesIntoN8nTests : OperationsTest, IAsyncDisposable
{
    private const string AdminKey = "n8n-tier-admin-key-0123456789abcdef";
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

    /// <summary>The worker as compose runs it against n8n: its default request timeout, test-sized backoff.</summary>
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

    private static string NewEmail() => $"lead.{Guid.NewGuid():N}@example.com";

    private async Task<string> SubmitAsync(string email, bool marketingConsent = false)
    {
        using var response = await _client.PostAsJsonAsync("/api/leads", TestData.ValidForm(email) with { MarketingConsent = marketingConsent });
        var text = await response.Content.ReadAsStringAsync();
        Assert.That((int)response.StatusCode, Is.EqualTo(201), text);
        return JsonNode.Parse(text)!["leadId"]!.GetValue<string>();
    }

    private Task<string> LeadStatusAsync(string leadId) => ScalarAsync<string>("SELECT status FROM hermes_leads WHERE lead_id = $1", leadId);

    private Task WaitForLeadAsync(string leadId, string status, TimeSpan? timeout = null) =>
        WaitUntilAsync(async () => await LeadStatusAsync(leadId) == status, $"lead {leadId} is {status}", timeout ?? TimeSpan.FromSeconds(30));

    /// <summary>The lead's attempts, in order: (status code, outcome).</summary>
    private async Task<List<(int? Status, string Outcome, int DurationMs)>> AttemptsAsync(string leadId)
    {
        await using var command = DataSource.CreateCommand(
            "SELECT a.status_code, a.outcome, a.duration_ms FROM hermes_delivery_attempts a JOIN hermes_leads l ON l.id = a.lead_id WHERE l.lead_id = $1 ORDER BY a.id");
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = leadId });
        await using var reader = await command.ExecuteReaderAsync();
        var attempts = new List<(int?, string, int)>();
        while (await reader.ReadAsync())
        {
            attempts.Add((reader.IsDBNull(0) ? null : reader.GetInt32(0), reader.GetString(1), Convert.ToInt32(reader.GetValue(2), CultureInfo.InvariantCulture)));
        }

        return attempts;
    }

    private async Task WaitForMemoryAsync(string webhookId)
    {
        var clock = Stopwatch.StartNew();
        while (!(await _n8n.DeliveryMemoryAsync()).ContainsKey(webhookId))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(10))
            {
                Assert.Fail($"n8n did not remember {webhookId}.");
            }

            await Task.Delay(100);
        }
    }

    private Task<string> ContactIdAsync(string leadId) => ScalarAsync<string>("SELECT brevo_contact_id FROM hermes_leads WHERE lead_id = $1", leadId);

    /// <summary>
    /// Brevo has the lead's contact, Hermes recorded its id from n8n's answer, and one attempt delivered it; the contact
    /// and n8n's answer as stored, for what a test checks beyond that.
    /// </summary>
    private async Task<(BrevoContact Contact, JsonNode Answer)> AssertDeliveredOnceWithItsContactAsync(string leadId, string email)
    {
        var contact = _brevo.Contact(email);
        Assert.That(contact, Is.Not.Null, "Brevo has the contact");
        Assert.That(await ContactIdAsync(leadId), Is.EqualTo(IdOf(contact)));
        var answer = JsonNode.Parse(await ScalarAsync<string>("SELECT n8n_response_data::text FROM hermes_leads WHERE lead_id = $1", leadId))!;
        Assert.That(answer["brevoContactId"]!.GetValue<string>(), Is.EqualTo(IdOf(contact)));
        Assert.That((await AttemptsAsync(leadId)).Select(static a => (a.Status, a.Outcome)), Is.EqualTo(new[] { ((int?)200, "delivered") }));
        return (contact!, answer);
    }

    private static string IdOf(BrevoContact? contact) => contact?.Id.ToString(CultureInfo.InvariantCulture) ?? "(no contact)";

    [Test]
    public async Task A_submitted_lead_is_delivered_through_n8n_and_its_Brevo_contact_id_recorded()
    {
        await using var worker = await StartWorkerAsync();
        var email = NewEmail();

        var leadId = await SubmitAsync(email);
        await WaitForLeadAsync(leadId, "forwarded");

        var (contact, answer) = await AssertDeliveredOnceWithItsContactAsync(leadId, email);
        Assert.That(await ScalarAsync<string>("SELECT o.status FROM hermes_outbox o JOIN hermes_leads l ON l.id = o.lead_id WHERE l.lead_id = $1", leadId), Is.EqualTo("delivered"));
        Assert.That(answer["duplicate"]!.GetValue<bool>(), Is.False);
        var requests = _brevo.RequestsFor(email);
        Assert.That(requests.Select(static r => (r.Method, r.Status)), Is.EqualTo(new[] { ("POST", 201) }));
        Assert.That(requests[0].Json!.ContainsKey("listIds"), Is.False, "no marketing consent: no list");
        Assert.That(contact!.ListIds, Is.Empty);
        Assert.That(contact.Attributes["FIRSTNAME"]!.GetValue<string>(), Is.EqualTo("Ada"));
        await WaitForMemoryAsync(WebhookId(leadId));
        Assert.That((await _n8n.DeliveryMemoryAsync())[WebhookId(leadId)], Is.EqualTo(IdOf(contact)));
    }

    [Test]
    public async Task The_native_worker_delivers_a_submitted_lead_through_n8n_and_records_its_Brevo_contact_id()
    {
        var executable = await NativeWorker.RequireAsync();
        await using var worker = Faults.ChildProcess.Start("native-worker", executable, new Dictionary<string, string>
        {
            ["DATABASE_URL"] = TestPostgres.UrlFor(ConnectionString),
            ["N8N_WEBHOOK_URL"] = _n8n.WebhookUrl.ToString(),
            ["HERMES_WEBHOOK_SECRET"] = _n8n.Secret,
            ["Webhook__AuthHeaderName"] = RealN8n.AuthHeaderName,
            ["Webhook__AuthHeaderValue"] = _n8n.AuthHeaderValue,
        });
        await worker.WaitListeningAsync(TimeSpan.FromSeconds(30));
        var email = NewEmail();

        var leadId = await SubmitAsync(email);
        await WaitForLeadAsync(leadId, "forwarded");

        await AssertDeliveredOnceWithItsContactAsync(leadId, email);
        await WaitForMemoryAsync(WebhookId(leadId));
        Assert.That(await worker.TerminateAsync(TimeSpan.FromSeconds(20)), Is.Zero, worker.Output);
    }

    [Test]
    public async Task Marketing_consent_puts_the_contact_on_the_Brevo_list()
    {
        await using var worker = await StartWorkerAsync();
        var email = NewEmail();

        var leadId = await SubmitAsync(email, marketingConsent: true);
        await WaitForLeadAsync(leadId, "forwarded");

        var contact = _brevo.Contact(email);
        Assert.That(contact?.ListIds, Is.EqualTo(new long[] { _n8n.BrevoListId }));
        Assert.That(_brevo.RequestsFor(email).Single().Json!["listIds"]!.AsArray().Select(static n => n!.GetValue<long>()), Is.EqualTo(new long[] { _n8n.BrevoListId }));
        Assert.That(await ContactIdAsync(leadId), Is.EqualTo(IdOf(contact)));
    }

    [Test]
    public async Task A_second_lead_from_the_same_address_takes_the_look_up_and_records_the_same_contact_id()
    {
        await using var worker = await StartWorkerAsync();
        var email = NewEmail();

        var first = await SubmitAsync(email);
        await WaitForLeadAsync(first, "forwarded");
        var second = await SubmitAsync(email);
        await WaitForLeadAsync(second, "forwarded");

        var contactId = IdOf(_brevo.Contact(email));
        Assert.That(await ContactIdAsync(first), Is.EqualTo(contactId));
        Assert.That(await ContactIdAsync(second), Is.EqualTo(contactId));
        Assert.That(_brevo.RequestsFor(email).Select(static r => (r.Method, r.Status)), Is.EqualTo(new[] { ("POST", 201), ("POST", 204), ("GET", 200) }),
            "Brevo answers a known address 204 without a body; the workflow looks the id up");
    }

    [Test]
    public async Task Brevo_failing_is_answered_502_by_n8n_and_Hermes_retries_until_Brevo_is_back()
    {
        await using var worker = await StartWorkerAsync();
        var email = NewEmail();
        _brevo.FailNext(2, 503);

        var leadId = await SubmitAsync(email);
        await WaitForLeadAsync(leadId, "forwarded");

        var attempts = await AttemptsAsync(leadId);
        Assert.That(attempts.Select(static a => a.Status), Is.EqualTo(new int?[] { 502, 502, 200 }));
        Assert.That(attempts.Select(static a => a.Outcome).Last(), Is.EqualTo("delivered"));
        Assert.That(_brevo.RequestsFor(email).Select(static r => r.Status), Is.EqualTo(new[] { 503, 503, 201 }));
        Assert.That(await ContactIdAsync(leadId), Is.EqualTo(IdOf(_brevo.Contact(email))));
        Assert.That(await ScalarAsync<int>("SELECT o.attempts FROM hermes_outbox o JOIN hermes_leads l ON l.id = o.lead_id WHERE l.lead_id = $1", leadId), Is.EqualTo(3));
    }

    [Test]
    public async Task A_hanging_Brevo_reaches_Hermes_as_n8ns_502_before_the_workers_request_timeout()
    {
        var timeout = new OutboxOptions().RequestTimeout;
        await using var worker = await StartWorkerAsync();
        var email = NewEmail();
        _brevo.HangCreates = true;

        var leadId = await SubmitAsync(email);
        await WaitUntilAsync(async () => (await AttemptsAsync(leadId)).Count >= 1, "the first attempt is recorded", TimeSpan.FromSeconds(30));
        _brevo.Heal();
        await WaitForLeadAsync(leadId, "forwarded");

        var attempts = await AttemptsAsync(leadId);
        TestContext.Out.WriteLine($"first attempt: HTTP {attempts[0].Status} after {attempts[0].DurationMs} ms");
        Assert.That(attempts[0].Status, Is.EqualTo(502), "n8n's answer, not a timeout (which has no status code)");
        Assert.That(TimeSpan.FromMilliseconds(attempts[0].DurationMs), Is.LessThan(timeout * 3 / 4));
        Assert.That(attempts.Select(static a => a.Status).Last(), Is.EqualTo(200));
        Assert.That(await ContactIdAsync(leadId), Is.EqualTo(IdOf(_brevo.Contact(email))));
    }

    [Test]
    public async Task A_failed_lead_replayed_from_the_CLI_is_accepted_by_n8n_and_delivered()
    {
        await using var worker = await StartWorkerAsync(("Outbox:MaxAttempts", "1"));
        var email = NewEmail();
        _brevo.FailNext(1, 500);
        var leadId = await SubmitAsync(email);
        await WaitForLeadAsync(leadId, "delivery_failed");

        var run = await CliAsync("replay", "--yes", "--lead", leadId);
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        await WaitForLeadAsync(leadId, "forwarded");

        Assert.That((await AttemptsAsync(leadId)).Select(static a => a.Status), Is.EqualTo(new int?[] { 502, 200 }));
        Assert.That(await ScalarAsync<int>("SELECT o.replay_count FROM hermes_outbox o JOIN hermes_leads l ON l.id = o.lead_id WHERE l.lead_id = $1", leadId), Is.EqualTo(1));
        Assert.That(await ContactIdAsync(leadId), Is.EqualTo(IdOf(_brevo.Contact(email))));
        Assert.That(_brevo.RequestsFor(email).Select(static r => r.Status), Is.EqualTo(new[] { 500, 201 }));
        await WaitForMemoryAsync(WebhookId(leadId) + "_r1");
        Assert.That((await _n8n.DeliveryMemoryAsync()).ContainsKey(WebhookId(leadId)), Is.False, "the first delivery failed: n8n remembered only the replay");
    }

    [Test]
    public async Task A_delivered_lead_replayed_from_the_admin_API_is_sent_to_Brevo_again_and_keeps_its_contact_id()
    {
        await using var worker = await StartWorkerAsync();
        var email = NewEmail();
        var leadId = await SubmitAsync(email);
        await WaitForLeadAsync(leadId, "forwarded");
        var contactId = await ContactIdAsync(leadId);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/admin/outbox/replay")
        {
            Content = JsonContent.Create(new { status = "delivered", leadIds = new[] { leadId } }),
        };
        request.Headers.Add("X-Api-Key", AdminKey);
        using var response = await _adminClient.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.That((int)response.StatusCode, Is.EqualTo(200), text);
        Assert.That(JsonNode.Parse(text)!["count"]!.GetValue<long>(), Is.EqualTo(1));
        await WaitUntilAsync(async () => await ScalarAsync<int>("SELECT count(*) FROM hermes_delivery_attempts a JOIN hermes_leads l ON l.id = a.lead_id WHERE l.lead_id = $1", leadId) == 2, "the replay is delivered", TimeSpan.FromSeconds(30));
        await WaitForLeadAsync(leadId, "forwarded");

        Assert.That((await AttemptsAsync(leadId)).Select(static a => (a.Status, a.Outcome)), Is.EqualTo(new[] { ((int?)200, "delivered"), (200, "delivered") }));
        Assert.That(await ContactIdAsync(leadId), Is.EqualTo(contactId));
        var answer = JsonNode.Parse(await ScalarAsync<string>("SELECT n8n_response_data::text FROM hermes_leads WHERE lead_id = $1", leadId))!;
        Assert.That(answer["duplicate"]!.GetValue<bool>(), Is.False, "a replay is a new message for n8n, not a duplicate");
        Assert.That(_brevo.RequestsFor(email).Select(static r => (r.Method, r.Status)), Is.EqualTo(new[] { ("POST", 201), ("POST", 204), ("GET", 200) }));
        await WaitForMemoryAsync(WebhookId(leadId) + "_r1");
    }

    [Test]
    public async Task A_worker_signing_with_another_secret_is_refused_with_401_and_Brevo_is_never_called()
    {
        await using var worker = await StartWorkerAsync(("HERMES_WEBHOOK_SECRET", WorkerUnderTest.Secret));
        var email = NewEmail();

        var leadId = await SubmitAsync(email);
        await WaitUntilAsync(async () => (await AttemptsAsync(leadId)).Count >= 2, "two attempts are recorded", TimeSpan.FromSeconds(30));
        await worker.StopAsync();

        Assert.That((await AttemptsAsync(leadId)).Select(static a => a.Status).Distinct(), Is.EqualTo(new int?[] { 401 }));
        Assert.That(await LeadStatusAsync(leadId), Is.Not.EqualTo("forwarded"));
        Assert.That(await ScalarAsync<string>("SELECT n8n_error_message FROM hermes_leads WHERE lead_id = $1", leadId), Does.Contain("401"));
        Assert.That(_brevo.RequestsFor(email), Is.Empty);
    }

    [Test]
    public async Task A_worker_without_the_header_auth_value_is_refused_by_n8n_and_Brevo_is_never_called()
    {
        await using var worker = await StartWorkerAsync(("Webhook:AuthHeaderName", null), ("Webhook:AuthHeaderValue", null));
        var email = NewEmail();

        var leadId = await SubmitAsync(email);
        await WaitUntilAsync(async () => (await AttemptsAsync(leadId)).Count >= 2, "two attempts are recorded", TimeSpan.FromSeconds(30));
        await worker.StopAsync();

        Assert.That((await AttemptsAsync(leadId)).Select(static a => a.Status).Distinct(), Is.EqualTo(new int?[] { 403 }));
        Assert.That(await LeadStatusAsync(leadId), Is.Not.EqualTo("forwarded"));
        Assert.That(_brevo.RequestsFor(email), Is.Empty);
    }

    private static string WebhookId(string leadId) => "msg_" + leadId;
}
