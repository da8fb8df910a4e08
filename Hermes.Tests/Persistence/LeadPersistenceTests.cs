using Hermes.Domain;
using Hermes.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Hermes.Tests.Persistence;

public sealed class LeadPersistenceTests : DatabaseTest
{
    [Test]
    public async Task A_lead_and_its_outbox_row_committed_together_are_both_visible()
    {
        var leadId = LeadIdentifier.New();
        await using (var context = CreateContext())
        await using (var transaction = await context.Database.BeginTransactionAsync())
        {
            var lead = Lead.FromSubmission(TestData.ValidSubmission(), leadId);
            context.Leads.Add(lead);
            await context.SaveChangesAsync();
            context.Outbox.Add(new OutboxMessage { BackupId = lead.BackupId, Payload = WebhookPayload.For(lead).ToJson() });
            await context.SaveChangesAsync();
            await transaction.CommitAsync();
        }

        await using var reader = CreateContext();
        var stored = await reader.Leads.SingleAsync(l => l.LeadId == leadId);
        var message = await reader.Outbox.SingleAsync(o => o.BackupId == stored.BackupId);
        Assert.That(stored.Email, Is.EqualTo("ada@example.com"));
        Assert.That(stored.Status, Is.EqualTo(LeadStatus.Queued.ToDatabase()));
        Assert.That(stored.Priority, Is.EqualTo("high"));
        Assert.That(stored.IpAddress!.ToString(), Is.EqualTo("203.0.113.7"));
        Assert.That(stored.CreatedAt, Is.Not.Null, "the database assigns created_at");
        Assert.That(message.Status, Is.EqualTo(OutboxStatus.Pending));
        Assert.That(message.Attempts, Is.Zero);
        Assert.That(message.AvailableAt, Is.EqualTo(message.CreatedAt).Within(TimeSpan.FromSeconds(1)));

        var payload = WebhookPayload.FromJson(message.Payload);
        Assert.That(payload.BackupId, Is.EqualTo(stored.BackupId));
        Assert.That(payload.LeadId, Is.EqualTo(leadId));
        Assert.That(payload.Id, Is.EqualTo("msg_" + leadId));
        Assert.That(payload.Lead.ProblemDescription, Is.EqualTo(stored.ProblemDescription));
        Assert.That(await ScalarAsync<string>("SELECT payload->'lead'->>'email' FROM hermes_outbox WHERE id = $1", message.Id), Is.EqualTo("ada@example.com"));
    }

    [Test]
    public async Task A_rolled_back_transaction_leaves_neither_row()
    {
        var leadId = LeadIdentifier.New();
        var before = await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox");
        await using (var context = CreateContext())
        await using (var transaction = await context.Database.BeginTransactionAsync())
        {
            var lead = Lead.FromSubmission(TestData.ValidSubmission(), leadId);
            context.Leads.Add(lead);
            await context.SaveChangesAsync();
            context.Outbox.Add(new OutboxMessage { BackupId = lead.BackupId, Payload = WebhookPayload.For(lead).ToJson() });
            await context.SaveChangesAsync();
            await transaction.RollbackAsync();
        }

        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads WHERE lead_id = $1", leadId), Is.Zero);
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox"), Is.EqualTo(before));
    }

    [Test]
    public async Task A_failing_outbox_insert_takes_the_lead_with_it()
    {
        var leadId = LeadIdentifier.New();
        await using (var context = CreateContext())
        {
            await using var transaction = await context.Database.BeginTransactionAsync();
            var lead = Lead.FromSubmission(TestData.ValidSubmission(), leadId);
            context.Leads.Add(lead);
            await context.SaveChangesAsync();
            context.Outbox.Add(new OutboxMessage { BackupId = lead.BackupId, Payload = "not json" });
            await Assert.ThrowsAsync<DbUpdateException>(() => context.SaveChangesAsync());
        }

        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads WHERE lead_id = $1", leadId), Is.Zero);
    }

    [Test]
    public async Task Unicode_sql_and_html_round_trip_verbatim()
    {
        const string text = "Robert'); DROP TABLE hermes_leads;-- <script>alert('x')</script> Zoë 日本 🛡️";
        var submission = TestData.ValidSubmission() with { ProblemDescription = text, CompanyName = "Ünïcødé & <Co>" };
        var leadId = LeadIdentifier.New();
        await using (var context = CreateContext())
        {
            context.Leads.Add(Lead.FromSubmission(submission, leadId));
            await context.SaveChangesAsync();
        }

        Assert.That(await ScalarAsync<string>("SELECT problem_description FROM hermes_leads WHERE lead_id = $1", leadId), Is.EqualTo(text));
        Assert.That(await ScalarAsync<string>("SELECT company_name FROM hermes_leads WHERE lead_id = $1", leadId), Is.EqualTo("Ünïcødé & <Co>"));
    }
}
