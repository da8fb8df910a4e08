using System.Text.Json;
using Hermes.Domain;
using Hermes.Persistence.Operations;

namespace Hermes.Tests.Operations;

public sealed class EraseTests : OperationsTest
{
    [Test]
    public async Task Erase_anonymises_the_lead_its_payloads_and_attempt_logs_and_cancels_its_pending_delivery()
    {
        var lead = await AddLeadAsync(OutboxStatus.Pending, email: "ada@example.com");
        var failed = await AddLeadAsync(OutboxStatus.Failed, email: "other@example.com");
        await ExecuteAsync("INSERT INTO hermes_delivery_attempts (outbox_id, lead_id, attempt_number, started_at, duration_ms, status_code, outcome, error, response_excerpt) VALUES ($1, $2, 1, now(), 10, 500, 'retry', 'ada@example.com bounced', 'Ada Lovelace')", lead.OutboxId, lead.BackupId);
        await ExecuteAsync("UPDATE hermes_leads SET notes = 'called Ada', n8n_response_data = '{\"email\": \"ada@example.com\"}', request_hash = 'abc' WHERE id = $1", lead.BackupId);

        var run = await CliAsync("erase", "--yes", "--lead", lead.LeadId);

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(run.Output, Does.Contain($"Erased {lead.LeadId}").And.Contain("1 pending delivery(ies) cancelled"));
        var row = await ScalarAsync<string>("""
            SELECT concat_ws('|', id, lead_id, first_name, last_name, email, phone_number, problem_description, coalesce(company_name, '-'),
                coalesce(user_agent, '-'), coalesce(host(ip_address), '-'), coalesce(captcha_token, '-'), coalesce(n8n_response_data::text, '-'),
                coalesce(notes, '-'), coalesce(request_hash, '-'), status, erased_at IS NOT NULL, country)
            FROM hermes_leads WHERE id = $1
            """, lead.BackupId);
        Assert.That(row, Is.EqualTo($"{lead.BackupId}|{lead.LeadId}|[erased]|[erased]|erased@erased.invalid|[erased]|[erased]|-|-|-|-|-|-|-|erased|t|United Kingdom"));
        Assert.That(await OutboxStatusAsync(lead.OutboxId), Is.EqualTo("cancelled"));
        var payload = WebhookPayload.FromJson(await ScalarAsync<string>("SELECT payload::text FROM hermes_outbox WHERE id = $1", lead.OutboxId));
        Assert.That(payload.LeadId, Is.EqualTo(lead.LeadId), "ids are kept");
        Assert.That(payload.BackupId, Is.EqualTo(lead.BackupId));
        Assert.That(payload.Lead.Email, Is.EqualTo(LeadErasure.ErasedEmail));
        Assert.That(payload.Lead.FirstName, Is.EqualTo(LeadErasure.ErasedText));
        Assert.That(payload.Lead.PhoneNumber, Is.EqualTo(LeadErasure.ErasedText));
        Assert.That(payload.Lead.ProblemDescription, Is.EqualTo(LeadErasure.ErasedText));
        Assert.That(payload.Lead.CompanyName, Is.Null);
        Assert.That(payload.Metadata.UserAgent, Is.Null);
        Assert.That(payload.Metadata.IpAddress, Is.Null);
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_delivery_attempts WHERE lead_id = $1 AND (error IS NOT NULL OR response_excerpt IS NOT NULL)", lead.BackupId), Is.Zero);
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_delivery_attempts WHERE lead_id = $1", lead.BackupId), Is.EqualTo(1), "the attempt rows stay");
        Assert.That(
            await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE payload::text ~* '(ada@|lovelace|mozilla|203\\.0\\.113|analytical|defaced)' OR last_error ILIKE '%ada@%'"),
            Is.EqualTo(1),
            "only the other lead's row still holds personal data");

        Assert.That(await ScalarAsync<string>("SELECT email FROM hermes_leads WHERE id = $1", failed.BackupId), Is.EqualTo("other@example.com"));
        Assert.That(await OutboxStatusAsync(failed.OutboxId), Is.EqualTo("failed"));
        Assert.That(await ScalarAsync<string>("SELECT error FROM hermes_delivery_attempts WHERE lead_id = $1", failed.BackupId), Is.Not.Null);
    }

    [Test]
    public async Task Erase_by_email_ignores_case_and_takes_every_lead_of_the_address()
    {
        var first = await AddLeadAsync(OutboxStatus.Delivered, email: "Grace.Hopper@example.com");
        var second = await AddLeadAsync(OutboxStatus.Pending, email: "grace.hopper@example.com");
        var other = await AddLeadAsync(OutboxStatus.Pending, email: "alan@example.com");

        var run = await CliAsync("erase", "--yes", "--email", "GRACE.HOPPER@example.com", "--json");

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        var result = JsonSerializer.Deserialize(run.Output, OperationsJsonContext.Default.ErasureResult)!;
        Assert.That(result.Leads.Select(static l => l.LeadId), Is.EqualTo(new[] { first.LeadId, second.LeadId }));
        Assert.That(result.Leads[0].BrevoContactId, Is.Not.Null, "the Brevo id is reported so the contact can be deleted there");
        Assert.That(result.Leads[0].CancelledDeliveries, Is.Zero, "a delivered row is not cancelled");
        Assert.That(result.Leads[1].CancelledDeliveries, Is.EqualTo(1));
        Assert.That(await OutboxStatusAsync(first.OutboxId), Is.EqualTo("delivered"));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads WHERE status = 'erased' AND erased_at IS NOT NULL"), Is.EqualTo(2));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads WHERE lower(email) LIKE 'grace%'"), Is.Zero);
        Assert.That(await OutboxStatusAsync(other.OutboxId), Is.EqualTo("pending"));
    }

    [Test]
    public async Task Erase_prints_the_brevo_contact_whose_erasure_it_queued_and_a_second_erase_is_harmless()
    {
        var lead = await AddLeadAsync(OutboxStatus.Delivered);
        var first = await CliAsync("erase", "--yes", "--lead", lead.LeadId);
        var erasedAt = await ScalarAsync<DateTime>("SELECT erased_at FROM hermes_leads WHERE id = $1", lead.BackupId);

        var second = await CliAsync("erase", "--yes", "--lead", lead.LeadId);

        Assert.That(first.Output, Does.Contain("Brevo contact brevo-").And.Contain("its erasure is queued (lead.erased)"));
        Assert.That(second.ExitCode, Is.Zero, second.ToString());
        Assert.That(second.Output, Does.Contain("was already erased").And.Contain("In the CRM: queued."));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE lead_id = $1 AND type = 'lead.erased'", lead.BackupId), Is.EqualTo(1), "a second erase queues nothing more");
        Assert.That(await ScalarAsync<DateTime>("SELECT erased_at FROM hermes_leads WHERE id = $1", lead.BackupId), Is.EqualTo(erasedAt));
    }

    [Test]
    public async Task Erase_of_an_unknown_lead_or_address_is_refused_and_changes_nothing()
    {
        var lead = await AddLeadAsync(OutboxStatus.Pending);

        var byLead = await CliAsync("erase", "--lead", "lead_doesnotexist");
        var byEmail = await CliAsync("erase", "--email", "nobody@example.com", "--json");

        Assert.That(byLead.ExitCode, Is.EqualTo(1), byLead.ToString());
        Assert.That(byLead.Error, Does.Contain("Refused").And.Contain("lead_doesnotexist"));
        Assert.That(byEmail.ExitCode, Is.EqualTo(1), byEmail.ToString());
        Assert.That(JsonSerializer.Deserialize(byEmail.Output, OperationsJsonContext.Default.ErasureResult)!.Found, Is.False);
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads WHERE erased_at IS NOT NULL"), Is.Zero);
        Assert.That(await OutboxStatusAsync(lead.OutboxId), Is.EqualTo("pending"));
    }

    [TestCase]
    [TestCase("--email", "a@example.com", "--lead", "lead_x")]
    [TestCase("--email", " ")]
    public async Task Erase_needs_exactly_one_of_email_or_lead(params string[] options)
    {
        var run = await CliAsync(["erase", .. options]);
        Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
        Assert.That(run.Error, Does.Contain("exactly one of --email or --lead"));
    }

    [Test]
    public async Task The_erasure_operation_refuses_a_request_without_exactly_one_key() =>
        await Assert.ThrowsAsync<ArgumentException>(() => new LeadErasure(DataSource).EraseAsync(new ErasureRequest(null, null), CancellationToken.None));
}
