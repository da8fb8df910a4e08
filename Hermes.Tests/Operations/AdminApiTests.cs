using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Hermes.Domain;
using Hermes.Persistence.Operations;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Hermes.Tests.Operations;

public sealed class AdminApiTests : OperationsTest
{
    private const string Key = "admin-key-0123456789abcdef-0123456789";
    private const string RotatedKey = "admin-key-fedcba9876543210-9876543210";
    private WebApplicationFactory<Hermes.Admin.AdminProgram> _factory = null!;
    private HttpClient _client = null!;

    [OneTimeSetUp]
    public void StartApi()
    {
        _factory = Factory($"{Key}, {RotatedKey}");
        _client = _factory.CreateClient();
        _client.DefaultRequestHeaders.Add("X-Api-Key", Key);
    }

    [OneTimeTearDown]
    public async Task StopApiAsync()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
    }

    [TestCase("GET", "/api/leads/lead_x")]
    [TestCase("GET", "/api/admin/outbox")]
    [TestCase("GET", "/api/admin/outbox/stats")]
    [TestCase("POST", "/api/admin/outbox/replay")]
    [TestCase("POST", "/api/admin/leads/erase")]
    public async Task Every_admin_endpoint_answers_401_without_a_key_or_with_a_wrong_one(string method, string path)
    {
        var failed = await AddLeadAsync(OutboxStatus.Failed);
        using var anonymous = _factory.CreateClient();

        using var without = await anonymous.SendAsync(Request(method, path));
        using var wrong = await anonymous.SendAsync(Request(method, path, key: "admin-key-0123456789abcdeX"));
        using var wrongBearer = await anonymous.SendAsync(Request(method, path, bearer: "not-the-key"));

        foreach (var response in new[] { without, wrong, wrongBearer })
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
            Assert.That(response.Headers.WwwAuthenticate.ToString(), Does.StartWith("Bearer"));
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.That(problem.GetProperty("status").GetInt32(), Is.EqualTo(401));
        }

        Assert.That(await OutboxStatusAsync(failed.OutboxId), Is.EqualTo("failed"), "a rejected request changes nothing");
    }

    [Test]
    public async Task The_key_is_accepted_as_a_bearer_token_and_every_rotated_key_works()
    {
        using var anonymous = _factory.CreateClient();
        using var bearer = await anonymous.SendAsync(Request("GET", "/api/admin/outbox/stats", bearer: Key));
        using var rotated = await anonymous.SendAsync(Request("GET", "/api/admin/outbox/stats", key: RotatedKey));
        Assert.That(bearer.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(rotated.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task The_public_API_has_none_of_the_admin_endpoints()
    {
        await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(builder =>
        {
            builder.UseSetting("DATABASE_URL", "");
            builder.UseSetting("ConnectionStrings:Hermes", ConnectionString);
            builder.UseSetting("HERMES_ADMIN_API_KEY", Key);
        });
        using var client = factory.CreateClient();
        foreach (var (method, path) in new[] { ("GET", "/api/leads/lead_x"), ("GET", "/api/admin/outbox"), ("GET", "/api/admin/outbox/stats"), ("POST", "/api/admin/outbox/replay"), ("POST", "/api/admin/leads/erase") })
        {
            using var response = await client.SendAsync(Request(method, path, key: Key));
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), $"{method} {path}");
        }
    }

    [Test]
    public void A_short_key_stops_the_admin_host_naming_the_setting()
    {
        using var factory = Factory("short");
        var e = Assert.Catch(() => factory.CreateClient());
        Assert.That(e!.ToString(), Does.Contain("HERMES_ADMIN_API_KEY"));
    }

    [Test]
    public async Task The_openapi_document_describes_the_admin_endpoints()
    {
        using var anonymous = _factory.CreateClient();
        var document = await anonymous.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var paths = document.GetProperty("paths");
        foreach (var path in new[] { "/api/leads/{leadId}", "/api/admin/outbox", "/api/admin/outbox/stats", "/api/admin/outbox/replay", "/api/admin/leads/erase" })
        {
            Assert.That(paths.TryGetProperty(path, out _), Is.True, path);
        }

        Assert.That(paths.GetProperty("/api/admin/outbox/replay").GetProperty("post").GetProperty("responses").TryGetProperty("401", out _), Is.True);
    }

    [Test]
    public async Task A_lead_comes_with_its_form_its_outbox_rows_and_its_delivery_history()
    {
        var lead = await AddLeadAsync(OutboxStatus.Failed, email: "ada@example.com");
        await ExecuteAsync("INSERT INTO hermes_delivery_attempts (outbox_id, lead_id, attempt_number, started_at, duration_ms, status_code, outcome, error) VALUES ($1, $2, 2, now(), 30, 503, 'retry', 'Service Unavailable')", lead.OutboxId, lead.BackupId);

        var details = await _client.GetFromJsonAsync($"/api/leads/{lead.LeadId}", OperationsJsonContext.Default.LeadDetails);

        Assert.That(details!.BackupId, Is.EqualTo(lead.BackupId));
        Assert.That(details.LeadId, Is.EqualTo(lead.LeadId));
        Assert.That(details.Status, Is.EqualTo(LeadStatus.DeliveryFailed.ToDatabase()));
        Assert.That(details.N8nSuccess, Is.False);
        Assert.That(details.FormData.Email, Is.EqualTo("ada@example.com"));
        Assert.That(details.FormData.FirstName, Is.EqualTo("Ada"));
        Assert.That(details.FormData.ServiceUrgency, Is.EqualTo("urgent"));
        Assert.That(details.Priority, Is.EqualTo("high"));
        Assert.That(details.Metadata.IpAddress, Is.EqualTo("203.0.113.7"));
        Assert.That(details.CreatedAt, Is.Not.Null);
        Assert.That(details.Outbox.Single().Status, Is.EqualTo("failed"));
        Assert.That(details.Outbox.Single().LastStatusCode, Is.EqualTo(500));
        Assert.That(details.DeliveryAttempts.Select(static a => (a.AttemptNumber, a.StatusCode, a.Outcome)),
            Is.EqualTo(new[] { (1, (int?)500, "failed"), (2, (int?)503, "retry") }));
    }

    [Test]
    public async Task An_unknown_lead_is_a_404_problem()
    {
        using var response = await _client.GetAsync("/api/leads/lead_nosuchlead");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        Assert.That((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), Does.Contain("lead_nosuchlead"));
    }

    [Test]
    public async Task The_outbox_is_listed_newest_first_by_status_page_by_page()
    {
        var failed = new List<StoredLead>();
        for (var i = 0; i < 5; i++)
        {
            failed.Add(await AddLeadAsync(OutboxStatus.Failed));
            await AddLeadAsync(OutboxStatus.Delivered);
        }

        var seen = new List<long>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await _client.GetFromJsonAsync($"/api/admin/outbox?status=failed&limit=2{(cursor is null ? "" : "&cursor=" + cursor)}", OperationsJsonContext.Default.OutboxPage);
            Assert.That(page!.Items.All(static r => r.Status == "failed"), Is.True);
            seen.AddRange(page.Items.Select(static r => r.Id));
            cursor = page.NextCursor?.ToString(System.Globalization.CultureInfo.InvariantCulture);
            pages++;
        }
        while (cursor is not null);

        Assert.That(pages, Is.EqualTo(3));
        Assert.That(seen, Is.EqualTo(failed.Select(static f => f.OutboxId).Reverse()));
        var all = await _client.GetFromJsonAsync("/api/admin/outbox", OperationsJsonContext.Default.OutboxPage);
        Assert.That(all!.Items, Has.Count.EqualTo(10));
        Assert.That(all.NextCursor, Is.Null);
        Assert.That(all.Items[0].LeadId, Does.StartWith("lead_"));
    }

    [TestCase("status=lost", "status")]
    [TestCase("limit=0", "limit")]
    [TestCase("limit=501", "limit")]
    [TestCase("cursor=abc", "cursor")]
    public async Task A_bad_outbox_query_is_a_400_problem_naming_the_parameter(string query, string parameter)
    {
        using var response = await _client.GetAsync("/api/admin/outbox?" + query);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        Assert.That((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty(parameter, out _), Is.True);
    }

    [Test]
    public async Task Stats_are_the_same_as_the_cli_reports()
    {
        await AddLeadAsync(OutboxStatus.Pending);
        await AddLeadAsync(OutboxStatus.Failed);

        var stats = await _client.GetFromJsonAsync("/api/admin/outbox/stats", OperationsJsonContext.Default.OutboxStats);
        var cli = JsonSerializer.Deserialize((await CliAsync("stats", "--json")).Output, OperationsJsonContext.Default.OutboxStats);

        Assert.That(stats!.Counts, Is.EqualTo(new OutboxCounts(1, 0, 0, 1, 0)));
        Assert.That(cli!.Counts, Is.EqualTo(stats.Counts));
    }

    [Test]
    public async Task Replay_resets_the_chosen_rows_and_a_dry_run_changes_nothing()
    {
        var a = await AddLeadAsync(OutboxStatus.Failed);
        var b = await AddLeadAsync(OutboxStatus.Failed);

        using var dry = await _client.PostAsJsonAsync("/api/admin/outbox/replay", new { status = "failed", leadIds = new[] { a.LeadId }, dryRun = true });
        var dryResult = await dry.Content.ReadFromJsonAsync(OperationsJsonContext.Default.ReplayResult);
        Assert.That(dry.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(dryResult, Is.EqualTo(dryResult! with { DryRun = true, Count = 1 }));
        Assert.That(await OutboxStatusAsync(a.OutboxId), Is.EqualTo("failed"));

        using var real = await _client.PostAsJsonAsync("/api/admin/outbox/replay", new { leadIds = new[] { a.LeadId }, since = DateTimeOffset.UtcNow.AddDays(-1) });
        var result = await real.Content.ReadFromJsonAsync(OperationsJsonContext.Default.ReplayResult);
        Assert.That(real.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(result!.Count, Is.EqualTo(1));
        Assert.That(result.LeadIds, Is.EqualTo(new[] { a.LeadId }));
        Assert.That(await OutboxStatusAsync(a.OutboxId), Is.EqualTo("pending"));
        Assert.That(await OutboxStatusAsync(b.OutboxId), Is.EqualTo("failed"));
        Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_leads WHERE id = $1", a.BackupId), Is.EqualTo(LeadStatus.Queued.ToDatabase()));
    }

    [Test]
    public async Task A_bad_replay_body_is_a_problem_and_changes_nothing()
    {
        var failed = await AddLeadAsync(OutboxStatus.Failed);

        using var badStatus = await _client.PostAsJsonAsync("/api/admin/outbox/replay", new { status = "pending" });
        using var badRange = await _client.PostAsJsonAsync("/api/admin/outbox/replay", new { since = "2026-11-22T00:00:00Z", until = "2026-11-21T00:00:00Z" });
        using var notJson = await _client.PostAsync("/api/admin/outbox/replay", new StringContent("status=failed", Encoding.UTF8, "application/x-www-form-urlencoded"));
        using var brokenJson = await _client.PostAsync("/api/admin/outbox/replay", new StringContent("{\"status\":", Encoding.UTF8, "application/json"));
        using var nullJson = await _client.PostAsync("/api/admin/outbox/replay", new StringContent("null", Encoding.UTF8, "application/json"));

        Assert.That(badStatus.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That((await badStatus.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("status", out _), Is.True);
        Assert.That(badRange.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(notJson.StatusCode, Is.EqualTo(HttpStatusCode.UnsupportedMediaType));
        Assert.That(brokenJson.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(nullJson.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        foreach (var response in new[] { badStatus, badRange, notJson, brokenJson, nullJson })
        {
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        }

        Assert.That(await OutboxStatusAsync(failed.OutboxId), Is.EqualTo("failed"));
    }

    [Test]
    public async Task Erase_anonymises_the_lead_and_an_unknown_lead_is_a_404_problem()
    {
        var lead = await AddLeadAsync(OutboxStatus.Pending, email: "turing@example.com");

        using var erased = await _client.PostAsJsonAsync("/api/admin/leads/erase", new { leadId = lead.LeadId });
        using var unknown = await _client.PostAsJsonAsync("/api/admin/leads/erase", new { email = "nobody@example.com" });
        using var both = await _client.PostAsJsonAsync("/api/admin/leads/erase", new { email = "turing@example.com", leadId = lead.LeadId });
        using var notJson = await _client.PostAsync("/api/admin/leads/erase", new StringContent("x", Encoding.UTF8, "text/plain"));

        Assert.That(erased.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var result = await erased.Content.ReadFromJsonAsync(OperationsJsonContext.Default.ErasureResult);
        Assert.That(result!.Leads.Single().CancelledDeliveries, Is.EqualTo(1));
        Assert.That(await ScalarAsync<string>("SELECT email FROM hermes_leads WHERE id = $1", lead.BackupId), Is.EqualTo(LeadErasure.ErasedEmail));
        Assert.That(await OutboxStatusAsync(lead.OutboxId), Is.EqualTo("cancelled"));
        Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(unknown.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        Assert.That(both.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(notJson.StatusCode, Is.EqualTo(HttpStatusCode.UnsupportedMediaType));

        var details = await _client.GetFromJsonAsync($"/api/leads/{lead.LeadId}", OperationsJsonContext.Default.LeadDetails);
        Assert.That(details!.Status, Is.EqualTo(LeadStatus.Erased.ToDatabase()));
        Assert.That(details.ErasedAt, Is.Not.Null);
        Assert.That(details.FormData.LastName, Is.EqualTo(LeadErasure.ErasedText));
        Assert.That(details.Metadata.IpAddress, Is.Null);
    }

    private WebApplicationFactory<Hermes.Admin.AdminProgram> Factory(string? keys) =>
        new WebApplicationFactory<Hermes.Admin.AdminProgram>().WithWebHostBuilder(builder =>
        {
            builder.UseSetting("DATABASE_URL", "");
            builder.UseSetting("ConnectionStrings:Hermes", ConnectionString);
            builder.UseSetting("HERMES_ADMIN_API_KEY", keys ?? "");
            // Every test here sends its wrong keys from the same client: AdminKeyThrottleTests is about the limit.
            builder.UseSetting("Admin:KeyFailureLimit", "1000");
        });

    private static HttpRequestMessage Request(string method, string path, string? key = null, string? bearer = null)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method == "POST")
        {
            request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        }

        if (key is not null)
        {
            request.Headers.Add("X-Api-Key", key);
        }

        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        return request;
    }
}
