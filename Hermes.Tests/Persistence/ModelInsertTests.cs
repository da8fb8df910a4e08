using System.Net;
using Hermes.Domain;
using Hermes.Persistence;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Persistence;

/// <summary>
/// The submission path's plain INSERTs write exactly what EF Core's SaveChanges writes: the same columns (every
/// column of the table the database does not fill itself, and the lead's id and time, which the API gives) and, for an
/// entity with every property set, the same stored row.
/// </summary>
public sealed class ModelInsertTests : DatabaseTest
{
    [SetUp]
    public Task EmptyTablesAsync() => EmptyLeadTablesAsync();

    [Test]
    public async Task The_submission_path_s_lead_insert_names_every_column()
    {
        await using var context = CreateContext();
        var columns = await ColumnsAsync("hermes_leads");

        Assert.That(SubmissionRows.GivenLeadInsert(context.Model).Columns, Is.EquivalentTo(columns), "id and created_at are given by the API (BackupIdReservoir)");
    }

    [Test]
    public async Task Outbox_insert_names_every_column_but_the_generated_ones()
    {
        await using var context = CreateContext();
        var columns = await ColumnsAsync("hermes_outbox");

        Assert.That(SubmissionRows.OutboxInsert(context.Model).Columns, Is.EquivalentTo(columns.Except(["id", "created_at", "available_at"])));
    }

    [Test]
    public async Task A_lead_with_every_property_set_is_stored_as_save_changes_stores_it()
    {
        var viaEf = FullLead("lead_via_ef_core_save_changes");
        var viaInsert = FullLead("lead_via_model_insert");
        await using (var context = CreateContext())
        await using (var transaction = await context.Database.BeginTransactionAsync())
        {
            context.Leads.Add(viaEf);
            await context.SaveChangesAsync();
            context.Outbox.Add(FullMessage(viaEf.BackupId));
            await context.SaveChangesAsync();
            await transaction.CommitAsync();
        }

        // As the submission path writes a lead: its id taken from the leads' sequence and its time given, the lead, its
        // outbox row and the COMMIT in one round trip.
        viaInsert.BackupId = await ScalarAsync<long>("SELECT nextval(pg_get_serial_sequence('hermes_leads', 'id'))");
        viaInsert.CreatedAt = new DateTimeOffset(2026, 11, 22, 9, 30, 15, TimeSpan.Zero).AddTicks(1_234_560);
        var committed = new List<bool>();
        await using (var context = CreateContext())
        await using (var transaction = await context.Database.BeginTransactionAsync())
        {
            await SubmissionRows.WriteAndCommitAsync(context, [viaInsert], [FullMessage(viaInsert.BackupId)], wakeUp: null, committed.Add, CancellationToken.None);
        }

        const string Lead = "SELECT (to_jsonb(l) - 'id' - 'lead_id' - 'created_at' - 'idempotency_key')::text FROM hermes_leads l WHERE l.id = $1";
        const string Outbox = "SELECT (to_jsonb(o) - 'id' - 'lead_id' - 'created_at' - 'available_at')::text FROM hermes_outbox o WHERE o.lead_id = $1";
        var efLead = await ScalarAsync<string>(Lead, viaEf.BackupId);
        var insertedLead = await ScalarAsync<string>(Lead, viaInsert.BackupId);
        Assert.Multiple(async () =>
        {
            Assert.That(committed, Is.EqualTo(new[] { true }), "told once, before the batch went, and never that it failed");
            Assert.That(await ScalarAsync<string>("SELECT lead_id FROM hermes_leads WHERE id = $1", viaInsert.BackupId), Is.EqualTo("lead_via_model_insert"), "stored under the id given");
            Assert.That(await ScalarAsync<bool>("SELECT created_at = $2 FROM hermes_leads WHERE id = $1", viaInsert.BackupId, viaInsert.CreatedAt.Value), Is.True, "stored at the time given");
            Assert.That(insertedLead, Is.EqualTo(efLead));
            Assert.That(await ScalarAsync<string>("SELECT idempotency_key FROM hermes_leads WHERE id = $1", viaInsert.BackupId), Is.EqualTo("key-lead_via_model_insert"));
            Assert.That(insertedLead, Does.Contain("Notes kept verbatim").And.Contain("incident").And.Contain("1234.5"), "every property set");
            Assert.That(await ScalarAsync<string>(Outbox, viaInsert.BackupId), Is.EqualTo(await ScalarAsync<string>(Outbox, viaEf.BackupId)));
            Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_outbox WHERE lead_id = $1", viaInsert.BackupId), Is.EqualTo("pending"), "the status through the model's converter");
        });
    }

    private async Task<List<string>> ColumnsAsync(string table)
    {
        var names = await ScalarAsync<string[]>("SELECT array_agg(column_name::text) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1", table);
        return [.. names];
    }

    private static Lead FullLead(string leadId)
    {
        var lead = Lead.FromSubmission(TestData.ValidSubmission(), leadId);
        var at = new DateTimeOffset(2026, 11, 22, 9, 30, 15, 123, TimeSpan.Zero);
        lead.BrevoContactId = "4711";
        lead.UserRole = "CISO";
        lead.CompanyName = "Analytical Engines Ltd";
        lead.CompanySize = "11-50";
        lead.MarketingConsent = true;
        lead.CaptchaToken = "token-xyz";
        lead.UserAgent = "Mozilla/5.0 (ModelInsertTests)";
        lead.IpAddress = IPAddress.Parse("2001:db8::7");
        lead.N8nWebhookSentAt = at;
        lead.N8nResponseReceivedAt = at.AddSeconds(1);
        lead.N8nResponseData = """{"brevoContactId": 4711, "nested": {"a": [1, 2]}}""";
        lead.N8nSuccess = true;
        lead.N8nErrorMessage = "none";
        lead.Status = "processed";
        lead.ProcessedAt = at.AddMinutes(1);
        lead.AssignedTo = "analyst@hermes.example";
        lead.Notes = "Notes kept verbatim: <b>'; DROP TABLE x; --";
        lead.LeadScore = 87;
        lead.Priority = "high";
        lead.Tags = ["incident", "urgent", "ünïcode"];
        lead.AiAnalysis = """{"summary": "defacement"}""";
        lead.EstimatedValue = 1234.5m;
        lead.IdempotencyKey = "key-" + leadId;
        // (idempotency_key is unique: the comparison leaves it out with the other per-lead columns)
        lead.RequestHash = new string('a', 64);
        lead.ErasedAt = at.AddDays(30);
        return lead;
    }

    private static OutboxMessage FullMessage(long leadId) => new()
    {
        BackupId = leadId,
        Payload = """{"type": "lead.submitted", "version": 1}""",
        Status = OutboxStatus.Pending,
        Attempts = 2,
        LockedBy = "worker-1",
        DeliveredAt = new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero),
        LastError = "HTTP 500",
        LastStatusCode = 500,
        ReplayCount = 1,
        Traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    };
}
