using System.Text.Json;
using Hermes.Domain;
using Hermes.Persistence.Operations;

namespace Hermes.Tests.Operations;

public sealed class DoctorTests : OperationsTest
{
    [Test]
    public async Task Doctor_finds_nothing_wrong_in_a_healthy_outbox_and_exits_zero()
    {
        await AddLeadAsync(OutboxStatus.Pending);
        await AddLeadAsync(OutboxStatus.Delivered);
        await AddLeadAsync(OutboxStatus.Cancelled);

        var human = await CliAsync("doctor");
        var json = await CliAsync("doctor", "--json");

        Assert.That(human.ExitCode, Is.Zero, human.ToString());
        Assert.That(human.Output, Does.Contain("No problem found."));
        var report = JsonSerializer.Deserialize(json.Output, OperationsJsonContext.Default.DoctorReport)!;
        Assert.That(report.Healthy, Is.True);
        Assert.That(report.Findings.Select(static f => f.Check), Is.EqualTo(new[]
        {
            "migrations", "leads_without_outbox", "outbox_without_lead", "attempts_without_outbox", "duplicate_lead_ids",
            "missing_required_fields", "stale_pending", "failed_deliveries", "expired_leases", "unconfirmed_erasures", "claim_query_plan", "floored_claim_query_plan",
            "lead_lookup_plan",
            "xmin_horizon", "dead_tuples", "index_bloat", "autovacuum", "attempt_partitions",
        }));
        Assert.That(report.Findings.Single(static f => f.Check == "attempt_partitions").Severity, Is.EqualTo(DoctorFinding.Ok));
        Assert.That(report.Findings.Single(static f => f.Check == "autovacuum").Severity, Is.EqualTo(DoctorFinding.Ok));
        Assert.That(report.Findings.Where(static f => f.IsProblem), Is.Empty);
        Assert.That(report.Findings.Single(static f => f.Check == "claim_query_plan").Examples[^1], Does.Contain("using idx_hermes_outbox_pending"));
        Assert.That(report.Findings.Single(static f => f.Check == "floored_claim_query_plan").Examples[^1],
            Does.Match(@"using idx_hermes_outbox_pending on hermes_outbox where .*ROW\(available_at, id\) >= ROW"));
        Assert.That(report.Findings.Single(static f => f.Check == "lead_lookup_plan").Examples[^1], Does.Contain("using idx_hermes_leads_lead_id"));
    }

    [Test]
    public async Task Doctor_reports_failed_stale_and_abandoned_rows_and_leads_without_outbox_and_exits_one()
    {
        var now = DateTimeOffset.UtcNow;
        var failed = await AddLeadAsync(OutboxStatus.Failed);
        var stale = await AddLeadAsync(OutboxStatus.Pending, createdAt: now.AddHours(-3));
        var abandoned = await AddLeadAsync(OutboxStatus.Pending, lockedBy: "dead-worker", availableAt: now.AddMinutes(-20));
        var orphanLead = await AddLeadAsync(OutboxStatus.Pending);
        await ExecuteAsync("DELETE FROM hermes_outbox WHERE id = $1", orphanLead.OutboxId);
        var blank = await AddLeadAsync(OutboxStatus.Delivered);
        await ExecuteAsync("UPDATE hermes_leads SET first_name = '  ' WHERE id = $1", blank.BackupId);

        var run = await CliAsync("doctor", "--json");
        var human = await CliAsync("doctor", "--pending-older-than", "4h");

        Assert.That(run.ExitCode, Is.EqualTo(1), run.ToString());
        var report = JsonSerializer.Deserialize(run.Output, OperationsJsonContext.Default.DoctorReport)!;
        var problems = report.Findings.Where(static f => f.IsProblem).ToDictionary(static f => f.Check);
        Assert.That(report.Healthy, Is.False);
        Assert.That(problems.Keys, Is.EquivalentTo(new[] { "failed_deliveries", "stale_pending", "expired_leases", "leads_without_outbox", "missing_required_fields" }));
        Assert.That(problems["failed_deliveries"].Examples, Is.EqualTo(new[] { failed.LeadId }));
        Assert.That(problems["stale_pending"].Examples, Is.EqualTo(new[] { stale.LeadId }));
        Assert.That(problems["expired_leases"].Examples, Is.EqualTo(new[] { abandoned.LeadId }));
        Assert.That(problems["leads_without_outbox"].Examples, Is.EqualTo(new[] { orphanLead.LeadId }));
        Assert.That(problems["missing_required_fields"].Examples, Is.EqualTo(new[] { blank.LeadId }));

        Assert.That(human.ExitCode, Is.EqualTo(1));
        Assert.That(human.Output, Does.Match(@"ok\s+stale_pending").And.Match(@"PROBLEM\s+failed_deliveries\s+1 deliveries gave up").And.Contain("4 check(s) found a problem."));
    }

    [Test]
    public async Task Doctor_does_not_count_an_erased_lead_or_a_delivered_and_purged_one_as_missing_its_outbox()
    {
        var erased = await AddLeadAsync(OutboxStatus.Pending);
        Assert.That((await CliAsync("erase", "--yes", "--lead", erased.LeadId)).ExitCode, Is.Zero);
        var purged = await AddLeadAsync(OutboxStatus.Delivered, createdAt: DateTimeOffset.UtcNow.AddDays(-10));
        Assert.That((await CliAsync("purge", "--yes")).ExitCode, Is.Zero);
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE id = $1", purged.OutboxId), Is.Zero);

        var run = await CliAsync("doctor");

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
    }
}

/// <summary>The checks that the schema's constraints normally make impossible, on a database whose constraints were dropped.</summary>
public sealed class DoctorOnABrokenSchemaTests : OperationsTest
{
    [Test]
    public async Task Doctor_reports_orphans_duplicates_and_a_missing_index()
    {
        var lead = await AddLeadAsync(OutboxStatus.Delivered);
        await ExecuteAsync("""
            ALTER TABLE hermes_outbox DROP CONSTRAINT fk_hermes_outbox_lead;
            ALTER TABLE hermes_delivery_attempts DROP CONSTRAINT fk_hermes_delivery_attempts_outbox;
            ALTER TABLE hermes_leads DROP CONSTRAINT idx_hermes_leads_lead_id;
            INSERT INTO hermes_outbox (id, lead_id, payload) OVERRIDING SYSTEM VALUE VALUES (9001, 424242, '{}');
            """);
        await ExecuteAsync("""
            INSERT INTO hermes_delivery_attempts (id, outbox_id, lead_id, attempt_number, started_at, duration_ms, outcome)
            OVERRIDING SYSTEM VALUE VALUES (9002, 777777, $1, 1, now(), 1, 'retry')
            """, lead.BackupId);
        await ExecuteAsync("""
            INSERT INTO hermes_leads (lead_id, first_name, last_name, email, country, phone_number, problem_description, n8n_success)
            SELECT lead_id, first_name, last_name, email, country, phone_number, problem_description, true FROM hermes_leads WHERE id = $1
            """, lead.BackupId);

        var run = await CliAsync("doctor", "--json");

        Assert.That(run.ExitCode, Is.EqualTo(1), run.ToString());
        var problems = JsonSerializer.Deserialize(run.Output, OperationsJsonContext.Default.DoctorReport)!
            .Findings.Where(static f => f.IsProblem).ToDictionary(static f => f.Check);
        Assert.That(problems.Keys, Is.EquivalentTo(new[] { "outbox_without_lead", "attempts_without_outbox", "duplicate_lead_ids", "lead_lookup_plan" }));
        Assert.That(problems["outbox_without_lead"].Examples, Is.EqualTo(new[] { "9001" }));
        Assert.That(problems["attempts_without_outbox"].Examples, Is.EqualTo(new[] { "9002" }));
        Assert.That(problems["duplicate_lead_ids"].Examples, Is.EqualTo(new[] { lead.LeadId }));
        Assert.That(problems["lead_lookup_plan"].Summary, Does.Contain("does not use idx_hermes_leads_lead_id"));
    }
}

/// <summary>A pending index that the claim can use but the floored claim cannot start from (its key lacks <c>id</c>).</summary>
public sealed class DoctorOnAPendingIndexWithoutIdTests : OperationsTest
{
    [Test]
    public async Task Doctor_reports_a_floored_claim_that_reads_the_index_from_the_top()
    {
        await ExecuteAsync("""
            DROP INDEX idx_hermes_outbox_pending;
            CREATE INDEX idx_hermes_outbox_pending ON hermes_outbox (available_at) WHERE status = 'pending';
            """);

        var run = await CliAsync("doctor", "--json");

        Assert.That(run.ExitCode, Is.EqualTo(1), run.ToString());
        var findings = JsonSerializer.Deserialize(run.Output, OperationsJsonContext.Default.DoctorReport)!.Findings.ToDictionary(static f => f.Check);
        Assert.That(findings.Values.Where(static f => f.IsProblem).Select(static f => f.Check), Is.EqualTo(new[] { "floored_claim_query_plan" }));
        Assert.That(findings["floored_claim_query_plan"].Summary, Does.Contain("uses idx_hermes_outbox_pending but not from the floor"));
        Assert.That(findings["claim_query_plan"].IsProblem, Is.False);
    }
}
