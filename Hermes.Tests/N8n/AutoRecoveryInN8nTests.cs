using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Hermes.Outbox.Worker.Delivery;
using Hermes.Tests.Api;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Operations;
using Hermes.Tests.Worker;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Npgsql;

namespace Hermes.Tests.N8n;

/// <summary>
/// Automatic recovery (<c>Outbox:AutoRecover</c>) end to end: Hermes' real API and worker, the shipped workflow in a real
/// n8n, the Brevo stand-in, and between the worker and n8n a proxy that plays the outage (503 while "down") and refuses
/// one lead for its content (422). Rows give up during the outage; once it ends, the first delivery closes the outage
/// and the worker replays the outage rows once each into Brevo, while the refused lead stays failed.
/// </summary>
public sealed class AutoRecoveryInN8nTests : OperationsTest, IAsyncDisposable
{
    private RealN8n _n8n = null!;
    private BrevoStandIn _brevo = null!;
    private HermesApiFactory? _api;
    private HttpClient _client = null!;

    [OneTimeSetUp]
    public void StartApi()
    {
        _api = new HermesApiFactory(ConnectionString);
        _client = _api.CreateApiClient();
    }

    [OneTimeTearDown]
    public async Task StopApiAsync() => await DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        _client?.Dispose();
        if (_api is not null)
        {
            await _api.DisposeAsync();
            _api = null;
        }
    }

    [SetUp]
    public async Task StartN8nAsync() => (_n8n, _brevo) = await N8nTier.StartAsync();

    [TearDown]
    public void LeaveN8n() => N8nTier.EndTest();

    [Test]
    public async Task Rows_that_gave_up_during_an_outage_reach_Brevo_once_each_after_it_and_a_refused_lead_stays_failed()
    {
        await using var proxy = await OutageProxy.StartAsync(_n8n.WebhookUrl);
        var refusedEmail = NewEmail();
        proxy.RefusedEmail = refusedEmail;
        proxy.Down = true;
        await using var worker = await WorkerUnderTest.StartAsync(ConnectionString, proxy.Address, new Dictionary<string, string?>
        {
            ["HERMES_WEBHOOK_SECRET"] = _n8n.Secret,
            ["Webhook:AuthHeaderName"] = RealN8n.AuthHeaderName,
            ["Webhook:AuthHeaderValue"] = _n8n.AuthHeaderValue,
            ["Outbox:Lease"] = "00:01:00",
            ["Outbox:MaxAttempts"] = "2",
            ["Outbox:BaseDelay"] = "00:00:00.200",
            ["Outbox:MaxDelay"] = "00:00:00.500",
            ["Outbox:CircuitBreaker:MinimumThroughput"] = "2",
            ["Outbox:CircuitBreaker:SamplingDuration"] = "00:00:10",
            ["Outbox:CircuitBreaker:BreakDuration"] = "00:00:00.500",
            ["Outbox:AutoRecover"] = "true",
            ["Outbox:AutoRecoverSpacing"] = "00:00:00.050",
            // n8n's own limit, as the other n8n tests: the tests' two seconds cut a recovered row's POST off on a busy
            // machine, and the attempt log read "-=retry" before the delivery.
            ["Outbox:RequestTimeout"] = new OutboxOptions().RequestTimeout.ToString(),
        });

        var emails = new[] { NewEmail(), NewEmail(), NewEmail() };
        var outageLeads = new List<string>();
        foreach (var email in emails)
        {
            outageLeads.Add(await SubmitAsync(email));
        }

        var refused = await SubmitAsync(refusedEmail);
        foreach (var leadId in outageLeads.Append(refused))
        {
            await WaitUntilAsync(async () => await LeadStatusAsync(leadId) == "delivery_failed", $"lead {leadId} gave up", TimeSpan.FromSeconds(60));
        }

        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'failed' AND failure_class = 'outage'"), Is.EqualTo(3));
        Assert.That(await ScalarAsync<string>("SELECT o.failure_class FROM hermes_outbox o JOIN hermes_leads l ON l.id = o.lead_id WHERE l.lead_id = $1", refused), Is.EqualTo("content"));
        Assert.That(_brevo.Requests, Is.Empty, "nothing reached Brevo during the outage");

        // The outage ends; the next lead is the delivery that shows it.
        proxy.Down = false;
        var afterEmail = NewEmail();
        var after = await SubmitAsync(afterEmail);
        await WaitUntilAsync(async () => await LeadStatusAsync(after) == "forwarded", "the lead after the outage is delivered", TimeSpan.FromSeconds(30));
        foreach (var leadId in outageLeads)
        {
            await WaitUntilAsync(async () => await LeadStatusAsync(leadId) == "forwarded", $"lead {leadId} is recovered", TimeSpan.FromSeconds(30));
        }

        for (var i = 0; i < emails.Length; i++)
        {
            var contact = _brevo.Contact(emails[i]);
            Assert.That(contact, Is.Not.Null, "Brevo has the recovered contact");
            Assert.That(_brevo.RequestsFor(emails[i]).Select(static r => (r.Method, r.Status)), Is.EqualTo(new[] { ("POST", 201) }), "created once");
            Assert.That(await ScalarAsync<string>("SELECT brevo_contact_id FROM hermes_leads WHERE lead_id = $1", outageLeads[i]), Is.EqualTo(contact!.Id.ToString(CultureInfo.InvariantCulture)));
            Assert.That(await ScalarAsync<string>(
                "SELECT o.status || ':' || o.replay_count || ':' || o.auto_recovered_generation FROM hermes_outbox o JOIN hermes_leads l ON l.id = o.lead_id WHERE l.lead_id = $1", outageLeads[i]),
                Is.EqualTo("delivered:1:1"), "replayed once, by the system");
            Assert.That(await ScalarAsync<string>(
                "SELECT string_agg(coalesce(a.status_code::text, '-') || '=' || a.outcome, ',' ORDER BY a.id) FROM hermes_delivery_attempts a JOIN hermes_leads l ON l.id = a.lead_id WHERE l.lead_id = $1", outageLeads[i]),
                Is.EqualTo("503=retry,503=failed,200=delivered"));
        }

        Assert.That(proxy.Forwarded(emails[0]), Is.EqualTo(1), "n8n got each recovered lead once");
        Assert.That(await LeadStatusAsync(refused), Is.EqualTo("delivery_failed"));
        Assert.That(await ScalarAsync<string>("SELECT o.status || ':' || o.replay_count FROM hermes_outbox o JOIN hermes_leads l ON l.id = o.lead_id WHERE l.lead_id = $1", refused), Is.EqualTo("failed:0"));
        Assert.That(_brevo.RequestsFor(refusedEmail), Is.Empty);
        Assert.That(proxy.Forwarded(refusedEmail), Is.Zero);
        Assert.That(await ScalarAsync<int>("SELECT o.replay_count FROM hermes_outbox o JOIN hermes_leads l ON l.id = o.lead_id WHERE l.lead_id = $1", after), Is.Zero);

        await using var command = DataSource.CreateCommand("SELECT actor, lead_ids, lead_count FROM hermes_audit WHERE action = 'auto_recover'");
        await using var reader = await command.ExecuteReaderAsync();
        Assert.That(await reader.ReadAsync(), Is.True, "the recovery is in the audit trail");
        Assert.That((reader.GetString(0), reader.GetFieldValue<string[]>(1), reader.GetInt64(2)), Is.EqualTo(("system:auto-recover", outageLeads.ToArray(), 3L)));
        Assert.That(await reader.ReadAsync(), Is.False, "one recovery");
        Assert.That(worker.Log.Count(static e => e.EventId == 4050), Is.EqualTo(1), "the worker logged the recovery");
    }

    private static string NewEmail() => $"lead.{Guid.NewGuid():N}@example.com";

    private async Task<string> SubmitAsync(string email)
    {
        using var response = await _client.PostAsJsonAsync("/api/leads", TestData.ValidForm(email));
        var text = await response.Content.ReadAsStringAsync();
        Assert.That((int)response.StatusCode, Is.EqualTo(201), text);
        return JsonNode.Parse(text)!["leadId"]!.GetValue<string>();
    }

    private Task<string> LeadStatusAsync(string leadId) => ScalarAsync<string>("SELECT status FROM hermes_leads WHERE lead_id = $1", leadId);

    /// <summary>The path to n8n, with an outage switch: 503 while <see cref="Down"/>, 422 for <see cref="RefusedEmail"/>'s lead, else forwarded as it came.</summary>
    private sealed class OutageProxy : IAsyncDisposable
    {
        private static readonly HashSet<string> Hop = new(StringComparer.OrdinalIgnoreCase) { "Host", "Content-Type", "Content-Length", "Connection", "Transfer-Encoding", "Accept-Encoding" };
        private readonly HttpClient _http = new();
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _forwarded = new();
        private WebApplication _app = null!;
        private volatile bool _down;

        public Uri Address { get; private set; } = null!;

        public bool Down { get => _down; set => _down = value; }

        public string? RefusedEmail { get; set; }

        public int Forwarded(string email) => _forwarded.Count(body => body.Contains(email, StringComparison.Ordinal));

        public static async Task<OutageProxy> StartAsync(Uri n8n)
        {
            var proxy = new OutageProxy();
            (proxy._app, proxy.Address) = await LoopbackServer.StartAsync(app => app.Run(context => proxy.HandleAsync(context, n8n)));
            return proxy;
        }

        private async Task HandleAsync(HttpContext context, Uri n8n)
        {
            using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            if (RefusedEmail is { } refused && body.Contains(refused, StringComparison.Ordinal))
            {
                context.Response.StatusCode = 422;
                await context.Response.WriteAsJsonAsync(new { error = "rejected" });
                return;
            }

            if (Down)
            {
                context.Response.StatusCode = 503;
                return;
            }

            using var forward = new HttpRequestMessage(HttpMethod.Post, n8n) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            foreach (var header in context.Request.Headers.Where(h => !Hop.Contains(h.Key)))
            {
                forward.Headers.TryAddWithoutValidation(header.Key, header.Value.ToArray());
            }

            _forwarded.Enqueue(body);
            using var response = await _http.SendAsync(forward, context.RequestAborted);
            context.Response.StatusCode = (int)response.StatusCode;
            context.Response.ContentType = response.Content.Headers.ContentType?.ToString();
            await context.Response.WriteAsync(await response.Content.ReadAsStringAsync(context.RequestAborted), context.RequestAborted);
        }

        public async ValueTask DisposeAsync()
        {
            _http.Dispose();
            await _app.DisposeAsync();
        }
    }
}
