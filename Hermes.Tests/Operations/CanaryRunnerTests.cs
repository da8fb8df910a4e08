using System.Net.Http.Json;
using Hermes.Tests.Api;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Monitoring;
using Hermes.Tests.Worker;
using Microsoft.Extensions.DependencyInjection;

namespace Hermes.Tests.Operations;

/// <summary>
/// The admin host's canary against the real API and worker, with a stand-in for n8n (<see cref="WebhookReceiver"/>) that
/// answers like the workflow's canary branch, like an old workflow, with 500, or not at all. Each test reads the outcome
/// where an operator reads it: the admin host's <c>/metrics</c> as Prometheus scrapes it (the names the alerts use), its
/// log, and the database. NonParallelizable: a host's metrics exporter hears every <c>Hermes.Admin</c> meter in the
/// process, so another class's canary would count here.
/// </summary>
[NonParallelizable]
public sealed class CanaryRunnerTests : OperationsTest
{
    private const string Secret = "canary-runner-secret-0123456789abcdef";
    private const string AdminKey = "canary-runner-admin-key-0123456789abcdef";
    private const string CanaryAnswer = """{"canary": true, "contract": 2}""";

    private WebhookReceiver _n8n = null!;
    private HermesApiFactory _api = null!;

    [SetUp]
    public async Task StartAsync()
    {
        _n8n = await WebhookReceiver.StartAsync();
        _n8n.Behaviour = static (request, context) => WebhookReceiver.Json(200, request.Body.Contains("\"lead.erased\"", StringComparison.Ordinal)
            ? """{"erased": true, "contract": 2}"""
            : CanaryAnswer)(context);
        _api = new HermesApiFactory(ConnectionString, new Dictionary<string, string?> { ["HERMES_CANARY_SECRET"] = Secret });
        _api.StartServer();
    }

    [TearDown]
    public async Task StopAsync()
    {
        await _api.DisposeAsync();
        await _n8n.DisposeAsync();
    }

    private HermesAdminFactory Admin(string? apiUrl = null, string secret = Secret, string timeout = "00:00:30") =>
        new(ConnectionString, AdminKey, new Dictionary<string, string?>
        {
            ["HERMES_CANARY_SECRET"] = secret,
            ["Canary:ApiUrl"] = apiUrl ?? _api.ServerAddress.ToString(),
            // One run in each test: the first runs at start, the next one would be ten minutes later.
            ["Canary:Interval"] = "00:10:00",
            ["Canary:Timeout"] = timeout,
        }, managementPort: HermesApiFactory.FreePort());

    private Task<WorkerUnderTest> WorkerAsync(Uri? webhook = null, params (string Key, string Value)[] settings) =>
        WorkerUnderTest.StartAsync(ConnectionString, webhook ?? _n8n.Url, settings.ToDictionary(static s => s.Key, static s => (string?)s.Value));

    /// <summary>Scrapes the admin host's /metrics until one canary run is counted, and returns what it exposed.</summary>
    private static async Task<(string Outcome, Exposition Metrics)> OneRunAsync(HermesAdminFactory admin)
    {
        using var scrape = admin.CreateManagementClient();
        Exposition? metrics = null;
        await WaitUntilAsync(async () =>
        {
            metrics = Exposition.Parse(await scrape.GetStringAsync("/metrics"));
            return metrics.Value("hermes_canary_runs_total") is >= 1;
        }, "the canary's run is counted on /metrics", TimeSpan.FromSeconds(60));

        var runs = metrics!.Series("hermes_canary_runs_total").ToList();
        Assert.That(runs.Sum(static r => r.Value), Is.EqualTo(1), "one run");
        var outcome = runs.Single(static r => r.Value == 1).Labels["outcome"];
        Assert.That(metrics.Value("hermes_canary_duration_seconds_count", ("outcome", outcome)), Is.EqualTo(1), "its duration, under the same outcome");
        Assert.That(metrics.Series("hermes_canary_duration_seconds_bucket").Select(static s => s.Labels["le"]), Does.Contain("30").And.Contain("+Inf"), "the buckets HermesCanarySlow reads");
        return (outcome, metrics);
    }

    private Task<string> CanariesAsync() => ScalarAsync<string>("SELECT string_agg(lead_id, ',' ORDER BY id) FROM hermes_leads WHERE is_canary");

    private async Task<string> PostCanaryAsync()
    {
        using var client = _api.CreateApiClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/leads") { Content = JsonContent.Create(TestData.ValidForm("canary@example.com")) };
        request.Headers.Add("Hermes-Canary", Secret);
        using var response = await client.SendAsync(request);
        Assert.That((int)response.StatusCode, Is.EqualTo(201), await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>())!["leadId"]!.GetValue<string>();
    }

    [Test]
    public async Task An_ok_canary_is_counted_and_every_earlier_canary_is_deleted_but_those_in_flight_or_awaiting_their_Brevo_erasure()
    {
        await using var worker = await WorkerAsync();
        using (var client = _api.CreateApiClient())
        using (var ordinary = await client.PostAsJsonAsync("/api/leads", TestData.ValidForm("ada@example.com")))
        {
            Assert.That((int)ordinary.StatusCode, Is.EqualTo(201));
        }

        // Four earlier canaries, each delivered through the worker, then placed in the states a removal meets.
        var done = await PostCanaryAsync();
        var inFlight = await PostCanaryAsync();
        var awaitingCrm = await PostCanaryAsync();
        var reachedBrevo = await PostCanaryAsync();
        await WaitUntilAsync(async () => await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'delivered'") == 5, "the five leads are delivered");
        await ExecuteAsync("UPDATE hermes_outbox SET status = 'pending', locked_by = 'another-worker', available_at = now() + interval '10 minutes' FROM hermes_leads l WHERE l.id = hermes_outbox.lead_id AND l.lead_id = $1", inFlight);
        await ExecuteAsync("UPDATE hermes_leads SET brevo_contact_id = '77', erased_at = now(), status = 'erased', crm_erasure_state = 'queued' WHERE lead_id = $1", awaitingCrm);
        await ExecuteAsync("UPDATE hermes_leads SET brevo_contact_id = '78' WHERE lead_id = $1", reachedBrevo);
        await ExecuteAsync("UPDATE hermes_leads SET created_at = now() - interval '1 hour' WHERE is_canary");
        var auditBefore = await ScalarAsync<long>("SELECT count(*) FROM hermes_audit");

        await using var admin = Admin();
        var (outcome, _) = await OneRunAsync(admin);
        Assert.That(outcome, Is.EqualTo("ok"));
        await WaitUntilAsync(async () => await ScalarAsync<long>("SELECT count(*) FROM hermes_leads WHERE lead_id = $1", done) == 0, "the earlier canary is deleted");

        // The canary that reached Brevo is erased there first, through the CRM: its lead.erased message reaches n8n. Once
        // n8n confirmed, it may already have gone in this same run (the worker is quick), or it goes in the next one.
        await WaitUntilAsync(() => Task.FromResult(_n8n.Requests.Any(static r => r.Body.Contains("\"lead.erased\"", StringComparison.Ordinal) && r.Body.Contains("\"78\"", StringComparison.Ordinal))),
            "the erasure of the canary's Brevo contact 78 reaches n8n");
        await WaitUntilAsync(async () => await ScalarAsync<string?>("SELECT coalesce(crm_erasure_state, 'none') FROM hermes_leads WHERE lead_id = $1", reachedBrevo) is null or "confirmed",
            "n8n's confirmation is recorded");
        var reachedBrevoKept = await ScalarAsync<long>("SELECT count(*) FROM hermes_leads WHERE lead_id = $1", reachedBrevo) == 1;
        string[] kept = reachedBrevoKept ? [inFlight, awaitingCrm, reachedBrevo] : [inFlight, awaitingCrm];

        var newest = await ScalarAsync<string>("SELECT lead_id FROM hermes_leads WHERE is_canary ORDER BY id DESC LIMIT 1");
        Assert.That(new[] { done, inFlight, awaitingCrm, reachedBrevo }, Does.Not.Contain(newest), "the newest is this run's canary");
        Assert.Multiple(async () =>
        {
            Assert.That(await CanariesAsync(), Is.EqualTo(string.Join(",", [.. kept, newest])),
                "kept: the one a worker still holds, the one whose Brevo erasure is not confirmed, and the newest");
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox o WHERE NOT EXISTS (SELECT 1 FROM hermes_leads l WHERE l.id = o.lead_id)"), Is.Zero);
            Assert.That(await ScalarAsync<string>("SELECT status || '/' || n8n_success FROM hermes_leads WHERE lead_id = $1", newest), Is.EqualTo("forwarded/true"),
                "the newest keeps its answer, for the console's Canaries only list");
            Assert.That(await ScalarAsync<string>(
                "SELECT string_agg(a.outcome || ':' || a.status_code, ',') FROM hermes_delivery_attempts a JOIN hermes_leads l ON l.id = a.lead_id WHERE l.lead_id = $1", newest),
                Is.EqualTo("delivered:200"));
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_delivery_attempts a JOIN hermes_leads l ON l.id = a.lead_id WHERE l.is_canary AND l.lead_id <> ALL($1)",
                (object)new[] { inFlight, awaitingCrm, reachedBrevo, newest }), Is.Zero);
            Assert.That(_n8n.Requests.Count(static r => r.Body.Contains("\"lead.erased\"", StringComparison.Ordinal)), Is.EqualTo(1),
                "one CRM erasure: the canary that reached Brevo; none for those the canary branch answered");
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox o JOIN hermes_leads l ON l.id = o.lead_id WHERE l.lead_id = ANY($1) AND o.type = 'lead.erased'",
                (object)new[] { inFlight, newest }), Is.Zero, "a canary answered by the canary branch needs no CRM erasure");
            Assert.That(await ScalarAsync<string>("SELECT email || '/' || status FROM hermes_leads WHERE NOT is_canary"), Is.EqualTo("ada@example.com/forwarded"), "a real lead is never touched");
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_audit"), Is.EqualTo(auditBefore), "no audit entry: no operator acted");
        });

        // The next run: the one in flight goes once its worker answered or its lease ran out, the one whose Brevo erasure
        // n8n confirmed goes too; the one still awaiting its confirmation stays.
        await worker.DisposeAsync();
        await ExecuteAsync("UPDATE hermes_outbox SET available_at = now() - interval '1 second' FROM hermes_leads l WHERE l.id = hermes_outbox.lead_id AND l.lead_id = $1", inFlight);
        var second = await admin.Services.GetRequiredService<Hermes.Admin.Canary.CanaryRemoval>().RemoveEarlierAsync(CancellationToken.None);
        Assert.That(second, Is.EqualTo(new Hermes.Admin.Canary.CanaryRemovalResult(reachedBrevoKept ? 2 : 1, 0, 1)));
        Assert.That(await CanariesAsync(), Is.EqualTo(string.Join(",", awaitingCrm, newest)));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.EqualTo(3), "the real lead, and the two canaries");
    }

    [Test]
    public async Task N8n_down_the_canary_times_out_says_so_and_stays_as_the_newest()
    {
        var closed = new Uri($"http://127.0.0.1:{HermesApiFactory.FreePort()}/webhook/hermes-lead");
        await using var worker = await WorkerAsync(closed);
        await using var admin = Admin(timeout: "00:00:03");

        var (outcome, _) = await OneRunAsync(admin);

        Assert.That(outcome, Is.EqualTo("timeout"));
        await WaitUntilAsync(() => Task.FromResult(admin.Logs.Entries.Any(static e => e.StartsWith("Warning 5302:", StringComparison.Ordinal))), "the failure is logged");
        Assert.That(admin.Logs.Entries.Single(static e => e.StartsWith("Warning 5302:", StringComparison.Ordinal)), Does.Contain("timeout after").And.Contain("no answer stored within 00:00:03"));
        Assert.That(await ScalarAsync<string>("SELECT l.status || '/' || o.status FROM hermes_leads l JOIN hermes_outbox o ON o.lead_id = l.id WHERE l.is_canary"), Is.EqualTo("queued/pending"),
            "still waiting for n8n; the next run deletes it");
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_delivery_attempts WHERE error IS NOT NULL"), Is.GreaterThanOrEqualTo(1), "the worker did try n8n");
    }

    [Test]
    public async Task N8n_answering_500_fails_the_canary_and_the_log_carries_the_status()
    {
        _n8n.Behaviour = static (_, context) => WebhookReceiver.Json(500, """{"message": "Workflow could not be started"}""")(context);
        await using var worker = await WorkerAsync(settings: ("Outbox:MaxAttempts", "1"));
        await using var admin = Admin();

        var (outcome, _) = await OneRunAsync(admin);

        Assert.That(outcome, Is.EqualTo("failed"));
        Assert.That(_n8n.Count, Is.EqualTo(1), "one attempt reached the stand-in");
        await WaitUntilAsync(() => Task.FromResult(admin.Logs.Entries.Any(static e => e.StartsWith("Warning 5302:", StringComparison.Ordinal))), "the failure is logged");
        Assert.That(admin.Logs.Entries.Single(static e => e.StartsWith("Warning 5302:", StringComparison.Ordinal)), Does.Contain(": failed after").And.Contain("500"));
        Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_leads WHERE is_canary"), Is.EqualTo("delivery_failed"));
    }

    [Test]
    public async Task An_old_workflow_that_answers_without_the_canary_branch_is_unrecognised_and_its_Brevo_contact_is_erased()
    {
        _n8n.Behaviour = static (request, context) => WebhookReceiver.Json(200, request.Body.Contains("\"lead.erased\"", StringComparison.Ordinal)
            ? """{"erased": true, "contract": 2}"""
            : """{"brevoContactId": "4711"}""")(context);
        await using var worker = await WorkerAsync();
        await using var admin = Admin();

        var (outcome, _) = await OneRunAsync(admin);

        Assert.That(outcome, Is.EqualTo("unrecognised"));
        await WaitUntilAsync(async () => await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE type = 'lead.erased'") == 1, "the contact's erasure is queued");
        Assert.That(await ScalarAsync<string>("SELECT brevo_contact_id || '/' || status FROM hermes_leads WHERE is_canary"), Is.EqualTo("4711/erased"));
        Assert.That(admin.Logs.Entries.Single(static e => e.StartsWith("Warning 5302:", StringComparison.Ordinal)), Does.Contain("unrecognised").And.Contain("canary branch"));
    }

    [Test]
    public async Task A_wrong_secret_is_refused_by_the_API_and_nothing_is_stored()
    {
        await using var admin = Admin(secret: "not-the-apis-canary-secret-0123456789abcdef");

        var (outcome, _) = await OneRunAsync(admin);

        Assert.That(outcome, Is.EqualTo("refused"));
        Assert.That(admin.Logs.Entries.Single(static e => e.StartsWith("Warning 5303:", StringComparison.Ordinal)), Does.Contain("refused").And.Contain("HTTP 403"));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.Zero);
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox"), Is.Zero);
    }

    [Test]
    public async Task An_API_nobody_answers_at_is_unreachable()
    {
        await using var admin = Admin(apiUrl: $"http://127.0.0.1:{HermesApiFactory.FreePort()}");

        var (outcome, _) = await OneRunAsync(admin);

        Assert.That(outcome, Is.EqualTo("unreachable"));
        Assert.That(admin.Logs.Entries.Single(static e => e.StartsWith("Warning 5303:", StringComparison.Ordinal)), Does.Contain("unreachable"));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.Zero);
    }
}
