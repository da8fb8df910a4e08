using System.Diagnostics.Metrics;
using System.Net.Http.Json;
using Hermes.Outbox.Worker.Delivery;
using Hermes.Persistence.Operations;
using Hermes.Tests.Api;
using Hermes.Tests.Infrastructure;
using Hermes.Tests.Operations;
using Hermes.Tests.Worker;

namespace Hermes.Tests.N8n;

/// <summary>
/// The canary end to end: the admin host's canary POSTs to Hermes' real API with the canary secret, the real worker
/// delivers it to the shipped workflow in a real n8n, whose canary branch answers without calling the Brevo stand-in;
/// the canary records its outcome and keeps the lead as the newest canary (deleted by the next run: CanaryRunnerTests).
/// Asserts on the database, on what Brevo got and on the metric.
/// </summary>
public sealed class CanaryInN8nTests : OperationsTest
{
    private const string Secret = "canary-secret-0123456789abcdef-0123456789";

    [SetUp]
    public async Task StartN8nAsync() => (_n8n, _brevo) = await N8nTier.StartAsync();

    [TearDown]
    public void LeaveN8n() => N8nTier.EndTest();

    private RealN8n _n8n = null!;
    private BrevoStandIn _brevo = null!;

    [Test]
    public async Task A_canary_travels_API_worker_and_n8n_and_is_answered_without_Brevo()
    {
        var outcomes = new List<(double Seconds, string Outcome)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = static (instrument, l) =>
        {
            if (instrument.Meter.Name == "Hermes.Admin" && instrument.Name == "hermes.canary.duration")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            lock (outcomes)
            {
                outcomes.Add((value, tags.ToArray().Single(static t => t.Key == "outcome").Value as string ?? ""));
            }
        });
        listener.Start();

        await using var api = new HermesApiFactory(ConnectionString, new Dictionary<string, string?> { ["HERMES_CANARY_SECRET"] = Secret });
        await using var worker = await WorkerUnderTest.StartAsync(ConnectionString, _n8n.WebhookUrl, new Dictionary<string, string?>
        {
            ["HERMES_WEBHOOK_SECRET"] = _n8n.Secret,
            ["Webhook:AuthHeaderName"] = RealN8n.AuthHeaderName,
            ["Webhook:AuthHeaderValue"] = _n8n.AuthHeaderValue,
            ["Outbox:RequestTimeout"] = new OutboxOptions().RequestTimeout.ToString(),
            ["Outbox:Lease"] = "00:01:00",
            ["Outbox:BaseDelay"] = "00:00:00.200",
            ["Outbox:MaxDelay"] = "00:00:00.500",
        });
        var brevoRequestsBefore = _brevo.Requests.Count;
        await using var admin = new HermesAdminFactory(ConnectionString, "canary-tier-admin-key-0123456789abcdef", new Dictionary<string, string?>
        {
            ["HERMES_CANARY_SECRET"] = Secret,
            ["Canary:ApiUrl"] = api.ServerAddress.ToString(),
            ["Canary:Interval"] = "00:10:00",
            ["Canary:Timeout"] = "00:00:30",
        });
        _ = admin.Services;

        await WaitUntilAsync(() => Task.FromResult(outcomes.Count == 1), "the canary's outcome is recorded", TimeSpan.FromSeconds(60));

        Assert.That(outcomes[0].Outcome, Is.EqualTo("ok"), "n8n answered canary: true");
        Assert.That(outcomes[0].Seconds, Is.GreaterThan(0).And.LessThan(30));
        Assert.That(await ScalarAsync<string>("SELECT status || '/' || (n8n_response_data->>'canary') || '/' || coalesce(crm_erasure_state, 'none') FROM hermes_leads WHERE is_canary"),
            Is.EqualTo("forwarded/true/none"), "the workflow's canary branch answered; nothing to erase in Brevo");
        Assert.That(await ScalarAsync<string>(
            "SELECT string_agg(a.outcome || ':' || a.status_code, ',') FROM hermes_delivery_attempts a JOIN hermes_leads l ON l.id = a.lead_id WHERE l.is_canary"),
            Is.EqualTo("delivered:200"), "one real delivery through n8n");
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox o JOIN hermes_leads l ON l.id = o.lead_id WHERE l.is_canary AND o.type = 'lead.erased'"),
            Is.Zero, "no Brevo contact, so no CRM erasure queued");
        Assert.That(_brevo.Requests.Skip(brevoRequestsBefore).ToList(), Is.Empty, "Brevo was never called");

        var stats = await new OutboxStatistics(DataSource).ReadAsync(CancellationToken.None);
        Assert.That(stats.Counts.Delivered, Is.Zero, "the canary's delivered row is not in the statistics");
        var search = new LeadSearch(DataSource);
        Assert.That((await search.SearchAsync(new LeadQuery(), CancellationToken.None)).Items, Is.Empty, "not among the leads");
        Assert.That((await search.SearchAsync(new LeadQuery { Canaries = true }, CancellationToken.None)).Items.Select(static l => l.IsCanary), Is.EqualTo(new[] { true }));
    }

    [Test]
    public async Task A_wrong_canary_secret_stores_nothing_and_a_canary_field_in_the_body_makes_an_ordinary_lead()
    {
        await using var api = new HermesApiFactory(ConnectionString, new Dictionary<string, string?> { ["HERMES_CANARY_SECRET"] = Secret });
        using var client = api.CreateApiClient();

        using var wrong = new HttpRequestMessage(HttpMethod.Post, "/api/leads") { Content = JsonContent.Create(TestData.ValidForm()) };
        wrong.Headers.Add("Hermes-Canary", "not-the-secret");
        using var refused = await client.SendAsync(wrong);
        Assert.That((int)refused.StatusCode, Is.EqualTo(403));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.Zero);

        var body = System.Text.Json.JsonSerializer.SerializeToNode(TestData.ValidForm(), Hermes.Api.Intake.IntakeJsonContext.Default.LeadForm)!.AsObject();
        body["canary"] = true;
        using var anonymous = await client.PostAsync("/api/leads", new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
        Assert.That((int)anonymous.StatusCode, Is.EqualTo(201));
        Assert.That(await ScalarAsync<bool>("SELECT is_canary FROM hermes_leads"), Is.False);
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE payload ? 'canary'"), Is.Zero);
    }
}
