using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Hermes.Persistence.Operations;
using Hermes.Tests.Api;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.OperatorConsole;

/// <summary>
/// The admin API's list operations that the console shares (lead search, delivery activity, the outbox by creation
/// time), and the console's refusals of requests it cannot run, over HTTP.
/// </summary>
public sealed class SharedOperationsTests : DatabaseTest, IAsyncDisposable
{
    private const string Key = "shared-test-key-0123456789abcdef";
    private HermesAdminFactory _api = null!;
    private HermesApiFactory _public = null!;
    private HttpClient _client = null!;
    private string _cookie = "";

    [OneTimeSetUp]
    public async Task StartAsync()
    {
        _api = new HermesAdminFactory(ConnectionString, Key);
        _public = new HermesApiFactory(ConnectionString);
        _client = ConsoleHttp.Client(_api);
        (_, _cookie) = await ConsoleHttp.SignInAsync(_client, Key);
    }

    [OneTimeTearDown]
    public async Task StopAsync()
    {
        _client?.Dispose();
        if (_api is not null)
        {
            await _api.DisposeAsync();
            _api = null!;
            await _public.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        GC.SuppressFinalize(this);
    }

    [SetUp]
    public Task EmptyTablesAsync() => EmptyLeadTablesAsync();

    [Test]
    public async Task The_admin_API_searches_leads_by_email_in_any_case_and_pages_them()
    {
        var first = await SubmitAsync("Same.Person@example.com");
        var second = await SubmitAsync("same.person@EXAMPLE.com");
        await SubmitAsync("someone.else@example.com");

        var page = await GetJsonAsync("/api/admin/leads?email=SAME.PERSON@example.com&limit=1", OperationsJsonContext.Default.LeadPage);
        Assert.That(page.Items.Select(static l => l.LeadId), Is.EqualTo(new[] { second }), "newest first, one a page");
        var next = await GetJsonAsync($"/api/admin/leads?email=same.person@example.com&limit=1&cursor={page.NextCursor}", OperationsJsonContext.Default.LeadPage);
        Assert.That(next.Items.Select(static l => l.LeadId), Is.EqualTo(new[] { first }));
        Assert.That(next.NextCursor, Is.Null);

        var byId = await GetJsonAsync($"/api/admin/leads?leadId={first}", OperationsJsonContext.Default.LeadPage);
        Assert.That(byId.Items.Single().Email, Is.EqualTo("Same.Person@example.com"));
        var future = await GetJsonAsync("/api/admin/leads?from=2999-01-01", OperationsJsonContext.Default.LeadPage);
        Assert.That(future.Items, Is.Empty);

        foreach (var (query, field) in new[] { ("from=soon", "from"), ("from=2026-12-02&to=2026-12-01", "to"), ("limit=0", "limit"), ("cursor=-4", "cursor"), ($"leadId={new string('x', 51)}", "leadId") })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/admin/leads?" + query);
            request.Headers.Add("X-Api-Key", Key);
            using var response = await _client.SendAsync(request);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), query);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.That(problem.GetProperty("errors").TryGetProperty(field, out _), Is.True, query);
        }
    }

    [Test]
    public async Task The_admin_API_reports_delivery_activity_by_hour_and_lists_the_outbox_by_creation_time()
    {
        var old = await SubmitAsync("old@example.com");
        var recent = await SubmitAsync("recent@example.com");
        await ExecuteAsync("UPDATE hermes_outbox o SET created_at = now() - interval '3 hours', status = 'failed' FROM hermes_leads l WHERE l.id = o.lead_id AND l.lead_id = $1", old);
        await AttemptDaysSinceAsync(DateTimeOffset.UtcNow.AddHours(-3));
        await ExecuteAsync("""
            INSERT INTO hermes_delivery_attempts (outbox_id, lead_id, attempt_number, started_at, duration_ms, status_code, outcome, worker_id)
            SELECT o.id, o.lead_id, 1, now() - interval '2 hours', 30, 500, 'failed', 'w1' FROM hermes_outbox o WHERE o.status = 'failed'
            """);
        await ExecuteAsync("UPDATE hermes_outbox SET available_at = now() - interval '5 minutes' WHERE status = 'pending'");

        var activity = await GetJsonAsync("/api/admin/activity", OperationsJsonContext.Default.ActivityReport);
        Assert.Multiple(() =>
        {
            Assert.That(activity.Hours, Has.Count.EqualTo(24));
            Assert.That(activity.Hours.Sum(static h => h.FailedAttempts), Is.EqualTo(1));
            Assert.That(activity.Hours[^3].GaveUp, Is.EqualTo(1), "two hours ago, counted in its hour");
            Assert.That(activity.LastAttempt?.StatusCode, Is.EqualTo(500));
            Assert.That(activity.OverduePending, Is.EqualTo(1), "the pending row waits past its time");
            Assert.That(activity.ActiveWorkers, Is.Zero, "no attempt in the last 15 minutes");
            Assert.That(activity.LeadsByStatus.Single(static s => s.Status == "queued").Count, Is.EqualTo(2));
        });

        var sinceTwoHours = await GetJsonAsync("/api/admin/outbox?since=2h", OperationsJsonContext.Default.OutboxPage);
        Assert.That(sinceTwoHours.Items.Select(static r => r.LeadId), Is.EqualTo(new[] { recent }));
        var untilTwoHours = await GetJsonAsync("/api/admin/outbox?until=2h&status=failed", OperationsJsonContext.Default.OutboxPage);
        Assert.That(untilTwoHours.Items.Select(static r => r.LeadId), Is.EqualTo(new[] { old }));
    }

    [Test]
    public async Task The_console_refuses_what_it_cannot_run_with_a_page_saying_why()
    {
        var leadId = await SubmitAsync("ada@example.com");
        var cases = new (string Path, HttpStatusCode Status, string Says)[]
        {
            ("/console/deliveries/replay?status=pending", HttpStatusCode.BadRequest, "Must be one of: failed, delivered, cancelled."),
            ("/console/deliveries/replay?since=2026-12-02&until=2026-12-01", HttpStatusCode.BadRequest, "Must be later than"),
            ("/console/deliveries/replay?since=whenever", HttpStatusCode.BadRequest, "ISO 8601"),
            ("/console/deliveries?status=lost", HttpStatusCode.BadRequest, "Must be one of"),
            ("/console/deliveries/replay?status=failed", HttpStatusCode.OK, "0 failed rows of every lead would be put back"),
            ($"/console/erase?email=ada@example.com&leadId={leadId}", HttpStatusCode.BadRequest, "not both"),
            ("/console/erase?email=nobody@example.com", HttpStatusCode.NotFound, "No lead has this email address"),
            ("/console/erase?leadId=lead_nobody", HttpStatusCode.NotFound, "There is no lead lead_nobody"),
            ($"/console/leads?leadId={leadId}", HttpStatusCode.OK, "ada@example.com"),
        };
        foreach (var (path, status, says) in cases)
        {
            using var response = await ConsoleHttp.GetAsync(_client, path, _cookie);
            var body = WebUtility.HtmlDecode(await response.Content.ReadAsStringAsync());
            Assert.That(response.StatusCode, Is.EqualTo(status), path);
            Assert.That(body, Does.Contain(says), path);
        }

        Assert.That(await ScalarAsync<string>("SELECT o.status FROM hermes_outbox o"), Is.EqualTo("pending"), "nothing ran");
    }

    private async Task<string> SubmitAsync(string email)
    {
        using var submitter = ConsoleHttp.Client(_public);
        using var response = await submitter.PostAsync("/api/leads", JsonContent.Create(TestData.ValidForm(email)));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("leadId").GetString()!;
    }

    private async Task<T> GetJsonAsync<T>(string path, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Api-Key", Key);
        using var response = await _client.SendAsync(request);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync(type))!;
    }
}
