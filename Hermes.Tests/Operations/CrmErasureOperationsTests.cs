using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hermes.Domain;
using Hermes.Persistence.Operations;
using Hermes.Tests.Api;

namespace Hermes.Tests.Operations;

/// <summary>What an operator sees of an erasure in the CRM: the admin API's lead, and <c>doctor</c>'s unconfirmed erasures.</summary>
public sealed class CrmErasureOperationsTests : OperationsTest
{
    private const string Key = "crm-erasure-admin-key-0123456789abcdef";

    [Test]
    public async Task The_admin_API_erases_queues_the_CRM_erasure_and_shows_its_state_and_confirmation_time_on_the_lead()
    {
        var lead = await AddLeadAsync(OutboxStatus.Delivered);
        await using var admin = new HermesAdminFactory(ConnectionString, Key);
        using var client = admin.CreateApiClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", Key);

        using var erase = await client.PostAsJsonAsync("/api/admin/leads/erase", new { leadId = lead.LeadId });
        var erased = JsonNode.Parse(await erase.Content.ReadAsStringAsync())!;
        var before = JsonNode.Parse(await client.GetStringAsync($"/api/leads/{lead.LeadId}"))!;
        await ExecuteAsync("UPDATE hermes_leads SET crm_erasure_state = 'confirmed', crm_erased_at = '2026-12-06T10:00:00Z' WHERE id = $1", lead.BackupId);
        var after = JsonNode.Parse(await client.GetStringAsync($"/api/leads/{lead.LeadId}"))!;

        Assert.That((int)erase.StatusCode, Is.EqualTo(200), erased.ToJsonString());
        Assert.That(erased["leads"]![0]!["crmErasure"]!.GetValue<string>(), Is.EqualTo("queued"));
        Assert.That(before["crmErasureState"]!.GetValue<string>(), Is.EqualTo("queued"));
        Assert.That(before["crmErasedAt"], Is.Null);
        Assert.That(before["outbox"]!.AsArray().Select(static o => o!["type"]!.GetValue<string>()), Is.EqualTo(new[] { "lead.submitted", "lead.erased" }));
        Assert.That(after["crmErasureState"]!.GetValue<string>(), Is.EqualTo("confirmed"));
        Assert.That(after["crmErasedAt"]!.GetValue<DateTimeOffset>(), Is.EqualTo(DateTimeOffset.Parse("2026-12-06T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Test]
    public async Task Doctor_lists_erasures_the_CRM_has_not_confirmed_after_the_given_time()
    {
        var queued = await AddLeadAsync(OutboxStatus.Delivered);
        var confirmed = await AddLeadAsync(OutboxStatus.Delivered);
        var nothingToErase = await AddLeadAsync(OutboxStatus.Pending);
        foreach (var lead in new[] { queued, confirmed, nothingToErase })
        {
            Assert.That((await CliAsync("erase", "--yes", "--lead", lead.LeadId)).ExitCode, Is.Zero);
        }

        await ExecuteAsync("UPDATE hermes_leads SET erased_at = now() - interval '3 hours'");
        await ExecuteAsync("UPDATE hermes_leads SET crm_erasure_state = 'confirmed', crm_erased_at = now() WHERE id = $1", confirmed.BackupId);
        // Lead erased three hours ago; the erasure row waits, as when n8n is down (no worker here).
        await ExecuteAsync("UPDATE hermes_outbox SET status = 'delivered' WHERE type = 'lead.submitted'");

        var byDefault = await CliAsync("doctor", "--json");
        var strict = await CliAsync("doctor", "--erasures-unconfirmed-after", "2h", "--json");
        var human = await CliAsync("doctor", "--erasures-unconfirmed-after", "2h");

        Assert.That(byDefault.ExitCode, Is.Zero, "three hours is within the default 24 hours: " + byDefault);
        Assert.That(Finding(byDefault, "unconfirmed_erasures").Severity, Is.EqualTo(DoctorFinding.Ok));
        Assert.That(strict.ExitCode, Is.EqualTo(1), strict.ToString());
        var finding = Finding(strict, "unconfirmed_erasures");
        Assert.That((finding.Severity, finding.Count), Is.EqualTo((DoctorFinding.Problem, 1L)));
        Assert.That(finding.Examples, Is.EqualTo(new[] { $"{queued.LeadId} (queued)" }));
        Assert.That(human.Output, Does.Match(@"PROBLEM\s+unconfirmed_erasures\s+1 erased leads' Brevo contacts are not confirmed erased 2h after the erase"));
    }

    private static DoctorFinding Finding(CliRun run, string check) =>
        JsonSerializer.Deserialize(run.Output, OperationsJsonContext.Default.DoctorReport)!.Findings.Single(f => f.Check == check);
}
