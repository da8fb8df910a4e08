using System.Text.Json;
using Hermes.Domain;
using Hermes.Persistence.Operations;

namespace Hermes.Tests.Operations;

public sealed class PurgeAndStatsTests : OperationsTest
{
    [Test]
    public async Task Purge_deletes_delivered_rows_and_attempt_logs_past_retention_and_never_a_lead()
    {
        var now = DateTimeOffset.UtcNow;
        var oldDelivered = await AddLeadAsync(OutboxStatus.Delivered, createdAt: now.AddDays(-8));
        var recentDelivered = await AddLeadAsync(OutboxStatus.Delivered, createdAt: now.AddDays(-1));
        var oldFailed = await AddLeadAsync(OutboxStatus.Failed, createdAt: now.AddDays(-30));
        var retrying = await AddLeadAsync(OutboxStatus.Pending, createdAt: now.AddDays(-10));
        await AttemptDaysSinceAsync(DateTimeOffset.UtcNow.AddDays(-9));
        await ExecuteAsync("INSERT INTO hermes_delivery_attempts (outbox_id, lead_id, attempt_number, started_at, duration_ms, outcome) VALUES ($1, $2, 1, now() - interval '9 days', 10, 'retry'), ($1, $2, 2, now() - interval '1 hour', 10, 'retry')", retrying.OutboxId, retrying.BackupId);

        var run = await CliAsync("purge", "--yes");

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(run.Output, Does.Contain("Purged 1 delivered outbox rows and 2 attempt logs older than 7d."));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE id = $1", oldDelivered.OutboxId), Is.Zero);
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE id = $1", recentDelivered.OutboxId), Is.EqualTo(1));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_delivery_attempts WHERE outbox_id = $1", oldFailed.OutboxId), Is.EqualTo(1), "a failed row's attempt log is kept");
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_delivery_attempts WHERE outbox_id = $1", retrying.OutboxId), Is.EqualTo(1), "only the old attempt goes");
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.EqualTo(4), "leads are never purged");
    }

    [Test]
    public async Task Purge_drops_whole_days_past_retention_keeps_a_day_with_a_failed_rows_attempts_and_deletes_only_in_the_boundary_day()
    {
        var now = DateTimeOffset.UtcNow;
        var delivered = await AddLeadAsync(OutboxStatus.Delivered, createdAt: now.AddDays(-12));
        var failed = await AddLeadAsync(OutboxStatus.Failed, createdAt: now.AddDays(-11));
        var pending = await AddLeadAsync(OutboxStatus.Pending, createdAt: now.AddDays(-12));
        // The pending row's tries: one on each old day, one just before the boundary, one inside retention.
        await ExecuteAsync("""
            INSERT INTO hermes_delivery_attempts (outbox_id, lead_id, attempt_number, started_at, duration_ms, outcome)
            VALUES ($1, $2, 1, $3, 10, 'retry'), ($1, $2, 2, $4, 10, 'retry'), ($1, $2, 3, now() - interval '7 days 1 minute', 10, 'retry'), ($1, $2, 4, now() - interval '6 days', 10, 'retry')
            """, pending.OutboxId, pending.BackupId, now.AddDays(-12).UtcDateTime, now.AddDays(-11).UtcDateTime);
        await ExecuteAsync("DELETE FROM hermes_outbox WHERE id = $1", delivered.OutboxId);
        static string Day(DateTimeOffset t) => "hermes_delivery_attempts_p" + t.UtcDateTime.ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture);
        const string Exists = "SELECT count(*) FROM pg_class WHERE relname = $1";
        var boundary = Day(now.AddDays(-7).AddMinutes(-1));
        var attemptsBefore = await ScalarAsync<long>("SELECT count(*) FROM hermes_delivery_attempts");

        var result = await new OutboxPurge(DataSource).PurgeAsync(TimeSpan.FromDays(7), CancellationToken.None);

        Assert.Multiple(async () =>
        {
            Assert.That(attemptsBefore, Is.EqualTo(5), "the failed row's attempt and the pending row's four");
            Assert.That(await ScalarAsync<long>(Exists, Day(now.AddDays(-12))), Is.Zero, "a day past retention with no failed row's attempt is dropped whole");
            Assert.That(await ScalarAsync<long>(Exists, Day(now.AddDays(-11))), Is.EqualTo(1), "the failed row's day is kept");
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_delivery_attempts WHERE outbox_id = $1", failed.OutboxId), Is.EqualTo(1), "with the failed row's attempt");
            Assert.That(await ScalarAsync<string>("SELECT string_agg(attempt_number::text, ',' ORDER BY attempt_number) FROM hermes_delivery_attempts WHERE outbox_id = $1", pending.OutboxId), Is.EqualTo("4"),
                "the kept day's and the boundary day's old rows are deleted, the one inside retention stays");
            Assert.That(await ScalarAsync<long>(Exists, boundary), Is.EqualTo(1), "the boundary day is not dropped");
            Assert.That(result.PartitionsDropped, Is.GreaterThanOrEqualTo(1));
            Assert.That(result.AttemptLogs, Is.EqualTo(3));
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_attempt_partitions() WHERE ends_at <= now() - interval '7 days'"), Is.EqualTo(1), "only the failed row's day is left past retention");
        });
    }

    [Test]
    public async Task Purge_takes_a_shorter_retention_and_reports_json()
    {
        var now = DateTimeOffset.UtcNow;
        await AddLeadAsync(OutboxStatus.Delivered, createdAt: now.AddDays(-1));
        await AddLeadAsync(OutboxStatus.Delivered, createdAt: now.AddMinutes(-5));

        var run = await CliAsync("purge", "--yes", "--older-than", "12h", "--json");

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        var result = JsonSerializer.Deserialize(run.Output, OperationsJsonContext.Default.PurgeResult)!;
        Assert.That(result.OutboxRows, Is.EqualTo(1));
        Assert.That(result.AttemptLogs, Is.EqualTo(1));
        Assert.That(result.OlderThan, Is.EqualTo(TimeSpan.FromHours(12)));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox"), Is.EqualTo(1));
    }

    [Test]
    public async Task Purge_works_through_more_rows_than_one_batch()
    {
        await ExecuteAsync("""
            INSERT INTO hermes_leads (lead_id, first_name, last_name, email, country, phone_number, problem_description, n8n_success, status)
            SELECT 'lead_bulk' || g, 'A', 'B', 'a@example.com', 'X', '123456', 'p', true, 'forwarded' FROM generate_series(1, 5100) g;
            INSERT INTO hermes_outbox (lead_id, payload, status, delivered_at, created_at)
            SELECT id, '{}', 'delivered', now() - interval '8 days', now() - interval '8 days' FROM hermes_leads;
            """);

        var result = await new OutboxPurge(DataSource).PurgeAsync(TimeSpan.FromDays(7), CancellationToken.None);

        Assert.That(result.OutboxRows, Is.EqualTo(5100));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox"), Is.Zero);
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads"), Is.EqualTo(5100));
    }

    [Test]
    public async Task Purge_with_a_bad_duration_is_a_usage_error()
    {
        await AddLeadAsync(OutboxStatus.Delivered, createdAt: DateTimeOffset.UtcNow.AddDays(-30));
        var run = await CliAsync("purge", "--yes", "--older-than", "forever");
        Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
        Assert.That(run.Error, Does.Contain("'forever' is not a duration"));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox"), Is.EqualTo(1));
    }

    [Test]
    public async Task Stats_count_rows_per_status_the_oldest_pending_and_the_last_hour()
    {
        var now = DateTimeOffset.UtcNow;
        await AddLeadAsync(OutboxStatus.Pending, createdAt: now.AddMinutes(-20));
        await AddLeadAsync(OutboxStatus.Pending, lockedBy: "worker-1", availableAt: now.AddSeconds(30));
        await AddLeadAsync(OutboxStatus.Delivered, createdAt: now.AddMinutes(-10));
        await AddLeadAsync(OutboxStatus.Delivered, createdAt: now.AddMinutes(-30));
        await AddLeadAsync(OutboxStatus.Delivered, createdAt: now.AddHours(-2));
        await AddLeadAsync(OutboxStatus.Failed, createdAt: now.AddMinutes(-5));
        await AddLeadAsync(OutboxStatus.Cancelled);

        var json = await CliAsync("stats", "--json");
        var human = await CliAsync("stats");

        Assert.That(json.ExitCode, Is.Zero, json.ToString());
        var stats = JsonSerializer.Deserialize(json.Output, OperationsJsonContext.Default.OutboxStats)!;
        Assert.That(stats.Counts, Is.EqualTo(new OutboxCounts(Pending: 2, InFlight: 1, Delivered: 3, Failed: 1, Cancelled: 1)));
        Assert.That(stats.OldestPendingAgeSeconds, Is.EqualTo(1200).Within(30));
        Assert.That(stats.OldestPendingCreatedAt, Is.EqualTo(now.AddMinutes(-20)).Within(TimeSpan.FromSeconds(1)));
        Assert.That(stats.DeliveredLastHour, Is.EqualTo(2));
        Assert.That(stats.FailedAttemptsLastHour, Is.EqualTo(1));
        Assert.That(stats.GaveUpLastHour, Is.EqualTo(1));
        Assert.That(human.ExitCode, Is.Zero);
        Assert.That(human.Output, Does.Contain("pending            2  (1 being delivered now)").And.Contain("replay --status failed")
            .And.Contain("Oldest pending row: 20m").And.Contain("Last hour: 2 delivered, 1 failed attempts, 1 gave up"));
    }

    [Test]
    public async Task Stats_of_an_empty_outbox_say_nothing_is_pending()
    {
        var run = await CliAsync("stats");
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(run.Output, Does.Contain("none pending"));
    }
}
