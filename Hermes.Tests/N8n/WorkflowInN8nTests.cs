using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Hermes.Outbox.Worker.Delivery;
using Hermes.Tests.Deploy;

namespace Hermes.Tests.N8n;

/// <summary>
/// The shipped workflow inside a real n8n, sent to the way a Hermes worker sends (Standard Webhooks headers, the
/// Header Auth header, a lead.submitted body), and asserted on n8n's answer, on what the Brevo stand-in got and
/// on what n8n remembered.
/// </summary>
public sealed class WorkflowInN8nTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(60) };
    private RealN8n _n8n = null!;
    private BrevoStandIn _brevo = null!;

    [SetUp]
    public async Task StartN8nAsync() => (_n8n, _brevo) = await N8nTier.StartAsync();

    [TearDown]
    public void LeaveN8n() => N8nTier.EndTest();

    private static string NewEmail() => $"lead.{Guid.NewGuid():N}@example.com";

    private static string NewLeadId() => "lead_" + Guid.NewGuid().ToString("N")[..20];

    private sealed record Answer(HttpStatusCode Status, JsonObject? Body, string Text, TimeSpan Took);

    private async Task<Answer> DeliverAsync(string body, string webhookId, string? secret = null, bool withAuth = true, string? authValue = null)
    {
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, _n8n.WebhookUrl)
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("webhook-id", webhookId);
        request.Headers.Add("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", N8nCodeNode.Sign(secret ?? _n8n.Secret, webhookId, timestamp, body));
        request.Headers.Add("Idempotency-Key", webhookId);
        request.Headers.Add("Hermes-Attempt", "1");
        if (withAuth)
        {
            request.Headers.Add(RealN8n.AuthHeaderName, authValue ?? _n8n.AuthHeaderValue);
        }

        var clock = Stopwatch.StartNew();
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        clock.Stop();
        JsonObject? json = null;
        try
        {
            json = text.Length > 0 ? JsonNode.Parse(text) as JsonObject : null;
        }
        catch (System.Text.Json.JsonException)
        {
            // Not JSON: the assertions show the text.
        }

        return new Answer(response.StatusCode, json, text, clock.Elapsed);
    }

    private async Task<(string LeadId, string Email, Answer Answer)> DeliverNewLeadAsync(bool marketingConsent = false, string? email = null)
    {
        var leadId = NewLeadId();
        email ??= NewEmail();
        var answer = await DeliverAsync(N8nCodeNode.HermesPayload(leadId, email, marketingConsent), "msg_" + leadId);
        return (leadId, email, answer);
    }

    private async Task WaitForMemoryAsync(string webhookId)
    {
        var clock = Stopwatch.StartNew();
        while (!(await _n8n.DeliveryMemoryAsync()).ContainsKey(webhookId))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(10))
            {
                Assert.Fail($"n8n did not remember {webhookId} in its workflow static data.");
            }

            await Task.Delay(100);
        }
    }

    [Test]
    public async Task A_signed_delivery_creates_the_Brevo_contact_and_answers_its_id()
    {
        var (leadId, email, answer) = await DeliverNewLeadAsync();

        Assert.That(answer.Status, Is.EqualTo(HttpStatusCode.OK), answer.Text);
        var contact = _brevo.Contact(email);
        Assert.That(contact, Is.Not.Null, "Brevo got the contact");
        Assert.That(answer.Body!["brevoContactId"]!.GetValue<string>(), Is.EqualTo(contact!.Id.ToString(CultureInfo.InvariantCulture)));
        Assert.That(answer.Body["duplicate"]!.GetValue<bool>(), Is.False);
        var requests = _brevo.RequestsFor(email);
        Assert.That(requests.Select(static r => (r.Method, r.Status)), Is.EqualTo(new[] { ("POST", 201) }));
        Assert.That(requests[0].ApiKey, Is.EqualTo(_brevo.ApiKey), "the Brevo credential (type sendInBlueApi) sends the api-key header");
        Assert.That(requests[0].Json!["updateEnabled"]!.GetValue<bool>(), Is.True);
        Assert.That(contact.Attributes["FIRSTNAME"]!.GetValue<string>(), Is.EqualTo("Ada"));
        Assert.That(contact.Attributes["LASTNAME"]!.GetValue<string>(), Is.EqualTo("Lovelace"));
        await WaitForMemoryAsync("msg_" + leadId);
        Assert.That((await _n8n.DeliveryMemoryAsync())["msg_" + leadId], Is.EqualTo(contact.Id.ToString(CultureInfo.InvariantCulture)));
    }

    [Test]
    public async Task The_same_webhook_id_twice_calls_Brevo_once_and_answers_the_same_contact_id()
    {
        var leadId = NewLeadId();
        var email = NewEmail();
        var body = N8nCodeNode.HermesPayload(leadId, email);

        var first = await DeliverAsync(body, "msg_" + leadId);
        await WaitForMemoryAsync("msg_" + leadId);
        var retry = await DeliverAsync(body, "msg_" + leadId);

        Assert.That(first.Status, Is.EqualTo(HttpStatusCode.OK), first.Text);
        Assert.That(retry.Status, Is.EqualTo(HttpStatusCode.OK), retry.Text);
        Assert.That(retry.Body!["brevoContactId"]!.GetValue<string>(), Is.EqualTo(first.Body!["brevoContactId"]!.GetValue<string>()));
        Assert.That(retry.Body["duplicate"]!.GetValue<bool>(), Is.True);
        Assert.That(_brevo.RequestsFor(email), Has.Count.EqualTo(1), "the retry is answered from n8n's memory");
    }

    [Test]
    public async Task An_operator_replay_is_a_new_message_and_an_id_of_another_payload_is_refused()
    {
        var (leadId, email, first) = await DeliverNewLeadAsync();
        Assert.That(first.Status, Is.EqualTo(HttpStatusCode.OK), first.Text);
        var body = N8nCodeNode.HermesPayload(leadId, email);

        var replay = await DeliverAsync(body, $"msg_{leadId}_r1");
        var foreign = await DeliverAsync(body, $"msg_{NewLeadId()}_r1");
        var malformed = await DeliverAsync(body, $"msg_{leadId}_rx");

        Assert.That(replay.Status, Is.EqualTo(HttpStatusCode.OK), replay.Text);
        Assert.That(replay.Body!["duplicate"]!.GetValue<bool>(), Is.False, "a replay is not swallowed as a duplicate");
        Assert.That(replay.Body["brevoContactId"]!.GetValue<string>(), Is.EqualTo(first.Body!["brevoContactId"]!.GetValue<string>()));
        Assert.That(foreign.Status, Is.EqualTo(HttpStatusCode.BadRequest), foreign.Text);
        Assert.That(malformed.Status, Is.EqualTo(HttpStatusCode.BadRequest), malformed.Text);
        Assert.That(_brevo.RequestsFor(email).Select(static r => (r.Method, r.Status)), Is.EqualTo(new[] { ("POST", 201), ("POST", 204), ("GET", 200) }),
            "the replay went to Brevo again (known address: 204, then the look-up); the refused ones did not");
        await WaitForMemoryAsync($"msg_{leadId}_r1");
    }

    [Test]
    public async Task A_delivery_signed_with_another_secret_is_answered_401_and_Brevo_is_not_called()
    {
        var leadId = NewLeadId();
        var email = NewEmail();

        var answer = await DeliverAsync(N8nCodeNode.HermesPayload(leadId, email), "msg_" + leadId, secret: "whsec_" + Convert.ToBase64String(new byte[32]));

        Assert.That(answer.Status, Is.EqualTo(HttpStatusCode.Unauthorized), answer.Text);
        Assert.That(answer.Body!["error"]!.GetValue<string>(), Does.Contain("webhook-signature"));
        Assert.That(_brevo.RequestsFor(email), Is.Empty);
    }

    [Test]
    public async Task A_delivery_without_the_right_header_auth_value_is_refused_by_n8n()
    {
        var leadId = NewLeadId();
        var email = NewEmail();
        var body = N8nCodeNode.HermesPayload(leadId, email);

        var missing = await DeliverAsync(body, "msg_" + leadId, withAuth: false);
        var wrong = await DeliverAsync(body, "msg_" + leadId, authValue: "not-the-value");

        Assert.That(missing.Status, Is.EqualTo(HttpStatusCode.Forbidden), missing.Text);
        Assert.That(wrong.Status, Is.EqualTo(HttpStatusCode.Forbidden), wrong.Text);
        Assert.That(_brevo.RequestsFor(email), Is.Empty);
    }

    [Test]
    public async Task A_hanging_Brevo_is_answered_502_clearly_before_the_workers_request_timeout()
    {
        var workerTimeout = new OutboxOptions().RequestTimeout;
        _brevo.HangCreates = true;

        var (_, email, answer) = await DeliverNewLeadAsync();

        TestContext.Out.WriteLine($"n8n answered {(int)answer.Status} after {answer.Took.TotalSeconds:F2} s");
        Assert.That(answer.Status, Is.EqualTo(HttpStatusCode.BadGateway), answer.Text);
        Assert.That(answer.Took, Is.LessThan(workerTimeout * 3 / 4), "Hermes gets n8n's answer, not a timeout of its own");
        Assert.That(_brevo.RequestsFor(email).Select(static r => r.Method), Is.EqualTo(new[] { "POST" }));
    }

    [Test]
    public async Task A_slow_create_then_a_hanging_look_up_is_answered_502_before_the_workers_request_timeout()
    {
        var workerTimeout = new OutboxOptions().RequestTimeout;
        var (_, email, known) = await DeliverNewLeadAsync();
        Assert.That(known.Status, Is.EqualTo(HttpStatusCode.OK), known.Text);
        _brevo.CreateDelay = TimeSpan.FromSeconds(3.5);
        _brevo.HangLookUps = true;

        var (_, _, answer) = await DeliverNewLeadAsync(email: email);

        TestContext.Out.WriteLine($"n8n answered {(int)answer.Status} after {answer.Took.TotalSeconds:F2} s");
        Assert.That(answer.Status, Is.EqualTo(HttpStatusCode.BadGateway), answer.Text);
        Assert.That(answer.Took, Is.LessThan(workerTimeout * 3 / 4));
        Assert.That(_brevo.RequestsFor(email).Select(static r => r.Method), Is.EqualTo(new[] { "POST", "POST", "GET" }), "the slow 204 led to the look-up");
    }

    [Test]
    public async Task A_wrong_Brevo_key_is_answered_502_with_Brevos_refusal()
    {
        var key = _brevo.ApiKey;
        _brevo.ApiKey = "xkeysib-another-key";
        try
        {
            var (_, email, answer) = await DeliverNewLeadAsync();

            Assert.That(answer.Status, Is.EqualTo(HttpStatusCode.BadGateway), answer.Text);
            Assert.That(answer.Body!["error"]!.GetValue<string>(), Is.EqualTo("Brevo did not accept the contact"));
            Assert.That(_brevo.RequestsFor(email).Select(static r => r.Status), Is.EqualTo(new[] { 401 }));
            Assert.That(_brevo.Contact(email), Is.Null);
        }
        finally
        {
            _brevo.ApiKey = key;
        }
    }

    [Test]
    public async Task Send_test_delivery_gets_a_contact_id_from_n8n_and_the_same_one_again_as_a_duplicate()
    {
        var email = NewEmail();
        var id = "test_" + Guid.NewGuid().ToString("N")[..12];
        var environment = new Dictionary<string, string?>
        {
            ["HERMES_WEBHOOK_SECRET"] = _n8n.Secret,
            ["HERMES_N8N_AUTH_HEADER_NAME"] = RealN8n.AuthHeaderName,
            ["HERMES_N8N_AUTH_HEADER_VALUE"] = _n8n.AuthHeaderValue,
            ["HERMES_TEST_ID"] = id,
        };
        var bash = ExternalTool.Require("bash", "bash runs the script.");
        string[] arguments = [RepositoryFiles.PathOf("deploy", "n8n", "send-test-delivery.sh"), _n8n.WebhookUrl.ToString(), email];

        var first = await ExternalTool.RunAsync(bash, arguments, environment: environment);
        await WaitForMemoryAsync("msg_" + id);
        var again = await ExternalTool.RunAsync(bash, arguments, environment: environment);

        var contactId = _brevo.Contact(email)?.Id.ToString(CultureInfo.InvariantCulture);
        Assert.That(contactId, Is.Not.Null, first.Describe());
        Assert.That(first.StandardOutput, Does.Contain($"{{\"brevoContactId\":\"{contactId}\",\"duplicate\":false}}").And.Contain("HTTP 200"), first.Describe());
        Assert.That(again.StandardOutput, Does.Contain($"{{\"brevoContactId\":\"{contactId}\",\"duplicate\":true}}").And.Contain("HTTP 200"), again.Describe());
        Assert.That(_brevo.RequestsFor(email), Has.Count.EqualTo(1));
    }
}
