using Hermes.Domain;
using Hermes.Persistence.Operations;
using Hermes.Persistence.Outbox;
using Npgsql;

namespace Hermes.Tests.Operations;

/// <summary>
/// The automatic recovery's statement (<see cref="OutboxAutoRecovery"/>) and the classification the outcome writer
/// stores for it, against the real schema: which rows it replays, which it leaves, the bound, the once-only marker,
/// the advisory lock and the audit entry.
/// </summary>
public sealed class AutoRecoveryTests : OperationsTest
{
    private static readonly TimeSpan Outage = TimeSpan.FromMinutes(10);

    [Test]
    public async Task Rows_that_failed_with_outages_alone_during_the_outage_are_replayed_once_and_nothing_else_is()
    {
        var outage1 = await FailedAsync(FailureClasses.Outage, TimeSpan.FromMinutes(5));
        var outage2 = await FailedAsync(FailureClasses.Outage, TimeSpan.FromMinutes(1));
        var content = await FailedAsync(FailureClasses.Content, TimeSpan.FromMinutes(2));
        var erased = await FailedAsync(FailureClasses.Outage, TimeSpan.FromMinutes(2));
        await ExecuteAsync("UPDATE hermes_leads SET erased_at = now(), status = 'erased' WHERE id = $1", erased.BackupId);
        var before = await FailedAsync(FailureClasses.Outage, TimeSpan.FromHours(1));
        var unclassified = await AddLeadAsync(OutboxStatus.Failed);
        await ExecuteAsync("UPDATE hermes_outbox SET failed_at = now() WHERE id = $1", unclassified.OutboxId);
        var delivered = await AddLeadAsync(OutboxStatus.Delivered);
        var auditBefore = await ScalarAsync<long>("SELECT coalesce(max(id), 0) FROM hermes_audit");

        var result = await new OutboxAutoRecovery(DataSource).RecoverAsync(Outage, 100, TimeSpan.Zero, "worker-a", CancellationToken.None);

        Assert.That(result.Ran, Is.True);
        Assert.That(result.Count, Is.EqualTo(2));
        Assert.That(result.LeadIds, Is.EquivalentTo(new[] { outage1.LeadId, outage2.LeadId }));
        foreach (var row in new[] { outage1, outage2 })
        {
            Assert.That(await ScalarAsync<string>(
                "SELECT status || ':' || attempts || ':' || replay_count || ':' || auto_recovered_generation || ':' || (last_error IS NULL) || ':' || (available_at <= now()) FROM hermes_outbox WHERE id = $1", row.OutboxId),
                Is.EqualTo("pending:0:1:1:true:true"), "reset like an operator's replay, and marked as the system's generation 1");
            Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_leads WHERE id = $1", row.BackupId), Is.EqualTo(LeadStatus.Queued.ToDatabase()));
        }

        foreach (var (row, why) in new[] { (content, "a content failure"), (erased, "an erased lead"), (before, "a failure before the outage"), (unclassified, "a failure without a class") })
        {
            Assert.That(await ScalarAsync<string>("SELECT status || ':' || replay_count || ':' || (auto_recovered_generation IS NULL) FROM hermes_outbox WHERE id = $1", row.OutboxId),
                Is.EqualTo("failed:0:true"), why + " is left alone");
        }

        Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_leads WHERE id = $1", erased.BackupId), Is.EqualTo("erased"));
        Assert.That(await OutboxStatusAsync(delivered.OutboxId), Is.EqualTo("delivered"));

        await using var command = DataSource.CreateCommand(
            "SELECT id, actor, action, outcome, lead_ids, lead_count, detail->>'rows', detail->>'worker', detail->>'maxRows' FROM hermes_audit WHERE id > $1");
        command.Parameters.Add(new NpgsqlParameter { Value = auditBefore });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.That(await reader.ReadAsync(), Is.True, "one audit entry");
        Assert.That(reader.GetInt64(0), Is.EqualTo(result.AuditId));
        Assert.That((reader.GetString(1), reader.GetString(2), reader.GetString(3)), Is.EqualTo(("system:auto-recover", "auto_recover", "succeeded")));
        Assert.That(reader.GetFieldValue<string[]>(4), Is.EqualTo(new[] { outage1.LeadId, outage2.LeadId }), "lead ids by id");
        Assert.That((reader.GetInt64(5), reader.GetString(6), reader.GetString(7), reader.GetString(8)), Is.EqualTo((2L, "2", "worker-a", "100")));
        Assert.That(await reader.ReadAsync(), Is.False, "only one");
    }

    [Test]
    public async Task A_row_the_system_recovered_once_is_never_recovered_again_even_after_another_outage()
    {
        var row = await FailedAsync(FailureClasses.Outage, TimeSpan.FromMinutes(1));
        var recovery = new OutboxAutoRecovery(DataSource);
        Assert.That((await recovery.RecoverAsync(Outage, 100, TimeSpan.Zero, "w", CancellationToken.None)).Count, Is.EqualTo(1));
        // It failed again, with outages alone, in the next outage.
        await ExecuteAsync("UPDATE hermes_outbox SET status = 'failed', attempts = 12, failure_class = 'outage', failed_at = now() WHERE id = $1", row.OutboxId);
        var auditBefore = await ScalarAsync<long>("SELECT coalesce(max(id), 0) FROM hermes_audit");

        var second = await recovery.RecoverAsync(Outage, 100, TimeSpan.Zero, "w", CancellationToken.None);

        Assert.That((second.Ran, second.Count, second.AuditId), Is.EqualTo((true, 0L, (long?)null)));
        Assert.That(await ScalarAsync<string>("SELECT status || ':' || replay_count || ':' || auto_recovered_generation FROM hermes_outbox WHERE id = $1", row.OutboxId), Is.EqualTo("failed:1:1"));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_audit WHERE id > $1", auditBefore), Is.Zero, "no entry for a recovery that replayed nothing");

        // An operator's replay is still possible, and the system still leaves the row to operators afterwards.
        Assert.That((await new OutboxReplay(DataSource).ReplayAsync(new ReplayRequest { LeadIds = [row.LeadId] }, CancellationToken.None)).Count, Is.EqualTo(1));
        await ExecuteAsync("UPDATE hermes_outbox SET status = 'failed', failure_class = 'outage', failed_at = now() WHERE id = $1", row.OutboxId);
        Assert.That((await recovery.RecoverAsync(Outage, 100, TimeSpan.Zero, "w", CancellationToken.None)).Count, Is.Zero);
        Assert.That(await ScalarAsync<int>("SELECT replay_count FROM hermes_outbox WHERE id = $1", row.OutboxId), Is.EqualTo(2));
    }

    [Test]
    public async Task The_bound_takes_the_oldest_failures_first_and_spaces_them_out()
    {
        var rows = new List<StoredLead>();
        for (var i = 0; i < 5; i++)
        {
            rows.Add(await FailedAsync(FailureClasses.Outage, TimeSpan.FromMinutes(5 - i)));
        }

        var result = await new OutboxAutoRecovery(DataSource).RecoverAsync(Outage, 2, TimeSpan.FromSeconds(10), "w", CancellationToken.None);

        Assert.That(result.Count, Is.EqualTo(2));
        Assert.That(await ScalarAsync<string>("SELECT string_agg(status, ',' ORDER BY id) FROM hermes_outbox"), Is.EqualTo("pending,pending,failed,failed,failed"));
        Assert.That(await ScalarAsync<double>("SELECT extract(epoch FROM (SELECT available_at FROM hermes_outbox WHERE id = $2) - (SELECT available_at FROM hermes_outbox WHERE id = $1))",
            rows[0].OutboxId, rows[1].OutboxId), Is.EqualTo(10).Within(0.001), "the second row is due 10 s after the first");
        var audit = await ScalarAsync<long>("SELECT lead_count FROM hermes_audit WHERE id = $1", result.AuditId!.Value);
        Assert.That(audit, Is.EqualTo(2));
    }

    [Test]
    public async Task While_another_worker_holds_the_recovery_lock_a_recovery_does_nothing()
    {
        var row = await FailedAsync(FailureClasses.Outage, TimeSpan.FromMinutes(1));
        await using var other = await DataSource.OpenConnectionAsync();
        await using var transaction = await other.BeginTransactionAsync();
        await using (var lockIt = new NpgsqlCommand("SELECT pg_advisory_xact_lock($1)", other, transaction))
        {
            lockIt.Parameters.Add(new NpgsqlParameter { Value = OutboxAutoRecovery.LockKey });
            await lockIt.ExecuteNonQueryAsync();
        }

        var result = await new OutboxAutoRecovery(DataSource).RecoverAsync(Outage, 100, TimeSpan.Zero, "w", CancellationToken.None);

        Assert.That((result.Ran, result.Count), Is.EqualTo((false, 0L)));
        Assert.That(await OutboxStatusAsync(row.OutboxId), Is.EqualTo("failed"));
        await transaction.RollbackAsync();
        Assert.That((await new OutboxAutoRecovery(DataSource).RecoverAsync(Outage, 100, TimeSpan.Zero, "w", CancellationToken.None)).Count, Is.EqualTo(1));
    }

    [Test]
    public async Task The_outcome_writer_stores_each_attempts_class_and_the_generations_with_content_winning()
    {
        var store = new OutboxStore(DataSource);
        var lead = await AddLeadAsync(OutboxStatus.Pending);
        // Generation 0: a 422, then 503s until it gives up: a content failure, whatever came last.
        await AttemptAsync(store, DeliveryOutcomes.Retry, 422, FailureClasses.Content);
        await AttemptAsync(store, DeliveryOutcomes.Failed, 503, FailureClasses.Outage);
        Assert.That(await ScalarAsync<string>("SELECT status || ':' || failure_class || ':' || (failed_at IS NOT NULL) FROM hermes_outbox WHERE id = $1", lead.OutboxId),
            Is.EqualTo("failed:content:true"));
        Assert.That(await ScalarAsync<string>("SELECT string_agg(status_code || '=' || failure_class, ',' ORDER BY id) FROM hermes_delivery_attempts WHERE outbox_id = $1", lead.OutboxId),
            Is.EqualTo("422=content,503=outage"), "each attempt's own class in the attempt log");

        // An operator's replay starts generation 1 afresh: outages alone now.
        await new OutboxReplay(DataSource).ReplayAsync(new ReplayRequest { LeadIds = [lead.LeadId] }, CancellationToken.None);
        await AttemptAsync(store, DeliveryOutcomes.Retry, 504, FailureClasses.Outage);
        await AttemptAsync(store, DeliveryOutcomes.Failed, null, FailureClasses.Outage);
        Assert.That(await ScalarAsync<string>("SELECT status || ':' || failure_class FROM hermes_outbox WHERE id = $1", lead.OutboxId), Is.EqualTo("failed:outage"));
        Assert.That((await new OutboxAutoRecovery(DataSource).RecoverAsync(Outage, 100, TimeSpan.Zero, "w", CancellationToken.None)).Count, Is.EqualTo(1));
        Assert.That(await ScalarAsync<string>("SELECT replay_count || ':' || auto_recovered_generation FROM hermes_outbox WHERE id = $1", lead.OutboxId), Is.EqualTo("2:2"));
    }

    private async Task AttemptAsync(OutboxStore store, string outcome, int? status, string failureClass)
    {
        await ExecuteAsync("UPDATE hermes_outbox SET available_at = now() WHERE status = 'pending'");
        var claimed = (await store.ClaimAsync(1, TimeSpan.FromMinutes(5), "w", CancellationToken.None)).Single();
        var now = DateTimeOffset.UtcNow;
        var changed = await store.CompleteAsync([new AttemptOutcome
        {
            OutboxId = claimed.Id,
            BackupId = claimed.BackupId,
            Attempt = claimed.Attempt,
            ReplayCount = claimed.ReplayCount,
            Outcome = outcome,
            StartedAt = now,
            FinishedAt = now,
            StatusCode = status,
            Error = status is null ? "No answer: Connection refused" : $"HTTP {status}",
            RetryDelay = outcome == DeliveryOutcomes.Retry ? TimeSpan.Zero : null,
            FailureClass = failureClass,
        }], [], "w", CancellationToken.None);
        Assert.That(changed, Is.EqualTo(1));
    }

    /// <summary>
    /// The worker measures the outage on its own clock, from the first failure it saw to just before this statement, while
    /// the database stamped that row's <c>failed_at</c> a moment after the failure and starts this statement a moment
    /// after the measurement; under load the second moment outgrew the first and the outage's first row stayed failed
    /// (OutageRecoveryTests, in CI). The window opens <see cref="OutboxAutoRecovery.WindowSlack"/> early, and no earlier.
    /// </summary>
    [Test]
    public async Task The_window_opens_a_little_before_the_outage_the_worker_measured_and_no_earlier()
    {
        var justBefore = await FailedAsync(FailureClasses.Outage, Outage + TimeSpan.FromSeconds(2));
        var wellBefore = await FailedAsync(FailureClasses.Outage, Outage + OutboxAutoRecovery.WindowSlack + TimeSpan.FromSeconds(30));

        var result = await new OutboxAutoRecovery(DataSource).RecoverAsync(Outage, 100, TimeSpan.Zero, "w", CancellationToken.None);

        Assert.That(result.LeadIds, Is.EqualTo(new[] { justBefore.LeadId }));
        Assert.That(await OutboxStatusAsync(justBefore.OutboxId), Is.EqualTo("pending"), "failed two seconds before the measured outage");
        Assert.That(await OutboxStatusAsync(wellBefore.OutboxId), Is.EqualTo("failed"), "failed before the window's slack");
    }

    /// <summary>A lead whose row gave up <paramref name="ago"/> (by the database's clock) with a generation of class <paramref name="failureClass"/>.</summary>
    private async Task<StoredLead> FailedAsync(string failureClass, TimeSpan ago)
    {
        var lead = await AddLeadAsync(OutboxStatus.Failed);
        await ExecuteAsync("UPDATE hermes_outbox SET failure_class = $2, failed_at = now() - $3 WHERE id = $1", lead.OutboxId, failureClass, ago);
        return lead;
    }
}
