using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Hermes.Domain;
using Microsoft.EntityFrameworkCore;

namespace Hermes.Tests.Api;

public sealed class LeadSubmissionTests : ApiTest
{
    [Test]
    public async Task Accepted_lead_is_stored_with_its_outbox_row_and_answered_with_its_ids()
    {
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        using var response = await PostJsonAsync("/api/leads", ValidBody(), configure: static r => r.Headers.UserAgent.ParseAdd("HermesTest/1.0"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
        var answer = await ReadJsonAsync(response);
        var leadId = (string)answer["leadId"]!;
        var backupId = (long)answer["backupId"]!;
        var timestamp = DateTimeOffset.Parse((string)answer["timestamp"]!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Multiple(() =>
        {
            Assert.That((bool)answer["success"]!, Is.True);
            Assert.That((string)answer["status"]!, Is.EqualTo("queued"));
            Assert.That(LeadIdentifier.IsWellFormed(leadId), Is.True, leadId);
            Assert.That(response.Headers.Location?.OriginalString, Is.EqualTo($"/api/leads/{leadId}"));
            Assert.That(response.Headers.Contains("Idempotent-Replayed"), Is.False);
            Assert.That(timestamp, Is.GreaterThan(before).And.LessThan(DateTimeOffset.UtcNow.AddSeconds(1)));
        });

        await using var db = CreateContext();
        var lead = await db.Leads.AsNoTracking().SingleAsync();
        var outbox = await db.Outbox.AsNoTracking().SingleAsync();
        Assert.Multiple(() =>
        {
            Assert.That(lead.BackupId, Is.EqualTo(backupId));
            Assert.That(lead.LeadId, Is.EqualTo(leadId));
            Assert.That(lead.CreatedAt, Is.EqualTo(timestamp));
            Assert.That(lead.FirstName, Is.EqualTo("Ada"));
            Assert.That(lead.LastName, Is.EqualTo("Lovelace"));
            Assert.That(lead.Email, Is.EqualTo("ada@example.com"));
            Assert.That(lead.Country, Is.EqualTo("United Kingdom"));
            Assert.That(lead.PhoneNumber, Is.EqualTo("+44 20 7946 0958"));
            Assert.That(lead.UserRole, Is.EqualTo("CISO"));
            Assert.That(lead.ProblemDescription, Is.EqualTo("Our web shop was defaced last night.\nWe need an incident response."));
            Assert.That(lead.CompanyName, Is.EqualTo("Analytical Engines Ltd"));
            Assert.That(lead.CompanySize, Is.EqualTo("11-50"));
            Assert.That(lead.ServiceUrgency, Is.EqualTo("urgent"));
            Assert.That(lead.Priority, Is.EqualTo("high"));
            Assert.That(lead.AgreeToTerms && lead.PrivacyConsent, Is.True);
            Assert.That(lead.MarketingConsent, Is.False);
            Assert.That(lead.CaptchaToken, Is.EqualTo("token-123"));
            Assert.That(lead.Source, Is.EqualTo("hermes-website"));
            Assert.That(lead.UserAgent, Is.EqualTo("HermesTest/1.0"));
            Assert.That(lead.IpAddress, Is.EqualTo(IPAddress.Loopback));
            Assert.That(lead.Status, Is.EqualTo(LeadStatus.Queued.ToDatabase()));
            Assert.That(lead.N8nSuccess, Is.False);
            Assert.That(lead.IdempotencyKey, Is.Null);
            Assert.That(lead.RequestHash, Is.Null);

            Assert.That(outbox.BackupId, Is.EqualTo(lead.BackupId));
            Assert.That(outbox.Type, Is.EqualTo(OutboxMessage.LeadSubmittedType));
            Assert.That(outbox.Status, Is.EqualTo(OutboxStatus.Pending));
            Assert.That(outbox.Attempts, Is.Zero);
            Assert.That(outbox.AvailableAt, Is.LessThanOrEqualTo(DateTimeOffset.UtcNow));
            Assert.That(WebhookPayload.FromJson(outbox.Payload), Is.EqualTo(WebhookPayload.For(lead)), "the payload is frozen from the stored lead");
        });

        // The payload's JSON fields, as the worker will send them.
        var payload = JsonNode.Parse(await ScalarAsync<string>("SELECT payload::text FROM hermes_outbox"))!;
        Assert.Multiple(() =>
        {
            Assert.That((string?)payload["type"], Is.EqualTo("lead.submitted"));
            Assert.That((int?)payload["version"], Is.EqualTo(WebhookPayload.CurrentVersion));
            Assert.That((string?)payload["id"], Is.EqualTo("msg_" + leadId));
            Assert.That((string?)payload["leadId"], Is.EqualTo(leadId));
            Assert.That((long?)payload["backupId"], Is.EqualTo(backupId));
            Assert.That(DateTimeOffset.Parse((string)payload["submittedAt"]!, System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(timestamp));
            Assert.That((string?)payload["lead"]?["email"], Is.EqualTo("ada@example.com"));
            Assert.That((string?)payload["lead"]?["priority"], Is.EqualTo("high"));
            Assert.That((bool?)payload["lead"]?["privacyConsent"], Is.True);
            Assert.That((string?)payload["metadata"]?["ipAddress"], Is.EqualTo("127.0.0.1"));
            Assert.That((string?)payload["metadata"]?["userAgent"], Is.EqualTo("HermesTest/1.0"));
            Assert.That((string?)payload["metadata"]?["source"], Is.EqualTo("hermes-website"));
        });
    }

    [Test]
    public async Task Outbox_row_carries_the_requests_trace_context()
    {
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        var parentSpan = ActivitySpanId.CreateRandom().ToHexString();
        using var response = await PostJsonAsync("/api/leads", ValidBody(), configure: r => r.Headers.Add("traceparent", $"00-{traceId}-{parentSpan}-01"));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));

        var stored = await ScalarAsync<string>("SELECT traceparent FROM hermes_outbox");
        Assert.That(stored, Does.Match($"^00-{traceId}-[0-9a-f]{{16}}-01$"), "the same trace, continued by the server's span");
        Assert.That(stored, Does.Not.Contain(parentSpan), "the server's own span, not the caller's");
    }

    [Test]
    public async Task Outbox_row_gets_a_new_trace_when_the_request_has_none()
    {
        using var response = await PostJsonAsync("/api/leads", ValidBody());
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));

        // Any trace flags: W3C Trace Context level 2 adds the "random" flag (02) beside "sampled" (01).
        Assert.That(await ScalarAsync<string>("SELECT traceparent FROM hermes_outbox"), Does.Match("^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"));
    }

    [Test]
    public async Task Backup_lead_alias_takes_the_seeds_request_and_answers_the_seeds_response()
    {
        var form = ValidBody();
        form.Remove("captchaToken");
        var request = new JsonObject
        {
            ["formData"] = form,
            ["metadata"] = new JsonObject
            {
                ["userAgent"] = "Mozilla/5.0 (seed website)",
                ["ipAddress"] = "198.51.100.23",
                ["timestamp"] = "2024-01-01T00:00:00Z",
                ["captchaToken"] = "token-from-metadata",
            },
        };

        using var response = await PostJsonAsync("/api/backup-lead", request);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
        var answer = await ReadJsonAsync(response);
        var leadId = (string)answer["leadId"]!;
        Assert.Multiple(() =>
        {
            Assert.That((bool)answer["success"]!, Is.True);
            Assert.That(LeadIdentifier.IsWellFormed(leadId), Is.True);
            Assert.That(answer.ContainsKey("timestamp"), Is.True);
            Assert.That(answer.Select(static p => p.Key), Is.EquivalentTo(new[] { "success", "leadId", "backupId", "timestamp" }));
            Assert.That(response.Headers.Location?.OriginalString, Is.EqualTo($"/api/leads/{leadId}"));
        });

        await using var db = CreateContext();
        var lead = await db.Leads.AsNoTracking().SingleAsync();
        Assert.Multiple(async () =>
        {
            Assert.That(lead.BackupId, Is.EqualTo((long)answer["backupId"]!));
            Assert.That(lead.LeadId, Is.EqualTo(leadId));
            Assert.That(lead.Email, Is.EqualTo("ada@example.com"));
            Assert.That(lead.CaptchaToken, Is.EqualTo("token-from-metadata"));
            Assert.That(lead.UserAgent, Is.EqualTo("Mozilla/5.0 (seed website)"), "the body's user agent when the request has none");
            Assert.That(lead.IpAddress, Is.EqualTo(IPAddress.Loopback), "never the address the body claims");
            Assert.That(await db.Outbox.CountAsync(o => o.BackupId == lead.BackupId), Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Backup_lead_prefers_the_requests_user_agent_and_the_forms_captcha_token()
    {
        var request = new JsonObject
        {
            ["formData"] = ValidBody(),
            ["metadata"] = new JsonObject { ["userAgent"] = "claimed", ["captchaToken"] = "other" },
        };

        using var response = await PostJsonAsync("/api/backup-lead", request, configure: static r => r.Headers.UserAgent.ParseAdd("RealBrowser/2.0"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(await ScalarAsync<string>("SELECT user_agent FROM hermes_leads"), Is.EqualTo("RealBrowser/2.0"));
        Assert.That(await ScalarAsync<string>("SELECT captcha_token FROM hermes_leads"), Is.EqualTo("token-123"));
    }

    [Test]
    public async Task Backup_lead_without_form_data_is_rejected_and_stores_nothing()
    {
        using var response = await PostJsonAsync("/api/backup-lead", new JsonObject { ["metadata"] = new JsonObject() });

        var problem = await ReadProblemAsync(response, 400);
        Assert.That(problem["errors"]?["formData"]?[0]?.ToString(), Does.Contain("required"));
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task Backup_lead_reports_invalid_fields_under_form_data()
    {
        var form = ValidBody();
        form["email"] = "nope";
        using var response = await PostJsonAsync("/api/backup-lead", new JsonObject { ["formData"] = form });

        var problem = await ReadProblemAsync(response, 400);
        Assert.That(problem["errors"]!.AsObject().Select(static e => e.Key), Is.EqualTo(new[] { "formData.email" }));
        await AssertNothingStoredAsync();
    }

    [Test]
    public async Task Each_lead_gets_its_own_unguessable_id_and_the_next_backup_id()
    {
        var answers = new List<JsonObject>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await PostJsonAsync("/api/leads", ValidBody());
            answers.Add(await ReadJsonAsync(response));
        }

        var leadIds = answers.Select(static a => (string)a["leadId"]!).ToList();
        var backupIds = answers.Select(static a => (long)a["backupId"]!).ToList();
        Assert.That(leadIds, Is.Unique);
        Assert.That(backupIds, Is.Ordered.Ascending.And.Unique);
        Assert.That(await ScalarAsync<long>("SELECT count(DISTINCT lead_id) FROM hermes_outbox"), Is.EqualTo(3));
    }
}
