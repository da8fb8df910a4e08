using System.Text.Json;
using Hermes.Domain;
using Hermes.Persistence.Operations;
using Npgsql;

namespace Hermes.Tests.Operations;

/// <summary>
/// <c>doctor</c>'s checks of the queue's vacuum health, each against the condition made for real: a REPEATABLE READ
/// transaction held open in another connection, autovacuum switched off on the outbox while dead rows pile up, an index
/// left bloated, the attempt log's days missing.
/// </summary>
public sealed class VacuumDoctorTests : OperationsTest
{
    [Test]
    public async Task Doctor_names_the_session_that_holds_back_the_xmin_horizon()
    {
        await AddLeadAsync(OutboxStatus.Pending);
        var holderSettings = new NpgsqlConnectionStringBuilder(ConnectionString) { ApplicationName = "held-by-a-report", Pooling = false };
        await using var holder = new NpgsqlConnection(holderSettings.ConnectionString);
        await holder.OpenAsync();
        await using var transaction = await holder.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
        await using (var read = new NpgsqlCommand("SELECT count(*) FROM hermes_outbox", holder, transaction))
        {
            await read.ExecuteScalarAsync();
        }

        await using (var pidCommand = new NpgsqlCommand("SELECT pg_backend_pid()", holder, transaction))
        {
            var pid = (int)(await pidCommand.ExecuteScalarAsync())!;
            // The transaction has to be older than the threshold: a real wait, the server's clock is the subject.
            await Task.Delay(TimeSpan.FromSeconds(2));

            var run = await CliAsync("doctor", "--xmin-older-than", "1s");

            Assert.That(run.ExitCode, Is.Zero, "a warning does not fail doctor: " + run);
            Assert.That(run.Output, Does.Match(@"WARNING\s+xmin_horizon\s+\d+ hold back the xmin horizon"));
            Assert.That(run.Output, Does.Contain($"session pid {pid}, application 'held-by-a-report'"));
            Assert.That(run.Output, Does.Contain("idle in transaction"));
        }

        await transaction.RollbackAsync();
        var after = await CliAsync("doctor", "--xmin-older-than", "1s", "--json");
        var report = JsonSerializer.Deserialize(after.Output, OperationsJsonContext.Default.DoctorReport)!;
        Assert.That(report.Findings.Single(static f => f.Check == "xmin_horizon").Examples, Has.None.Contains("held-by-a-report"), "once it ends, it is not named");
    }

    [Test]
    public async Task Doctor_warns_of_autovacuum_off_dead_tuples_and_a_bloated_index_on_the_outbox()
    {
        var lead = await AddLeadAsync(OutboxStatus.Delivered);
        await ExecuteAsync("ALTER TABLE hermes_outbox SET (autovacuum_enabled = false)");
        try
        {
            await ExecuteAsync("INSERT INTO hermes_outbox (lead_id, payload, status, delivered_at) SELECT $1, '{}', 'delivered', now() FROM generate_series(1, 40000)", lead.BackupId);
            await ExecuteAsync("DELETE FROM hermes_outbox WHERE id <> $1", lead.OutboxId);
            await WaitUntilAsync(async () =>
            {
                await ExecuteAsync("SELECT pg_stat_force_next_flush()");
                return await ScalarAsync<long>("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'hermes_outbox'") >= 40000;
            }, "the statistics count the dead rows");

            var run = await CliAsync("doctor");

            Assert.That(run.ExitCode, Is.Zero, run.ToString());
            Assert.That(run.Output, Does.Contain("hermes_outbox: autovacuum_enabled = false"));
            Assert.That(run.Output, Does.Match(@"WARNING\s+dead_tuples\s+1 hot table"));
            Assert.That(run.Output, Does.Match(@"hermes_outbox: \d+ dead, \d+ live \(\d+%\), last autovacuum never"));

            // Vacuum removes the dead rows, but not the index pages they took.
            await ExecuteAsync("VACUUM ANALYZE hermes_outbox");
            var report = await new IntegrityDoctor(DataSource).ExamineAsync(new DoctorSettings { IndexBloatMinimumPages = 10 }, CancellationToken.None);
            var bloat = report.Findings.Single(static f => f.Check == "index_bloat");
            Assert.That(bloat.Severity, Is.EqualTo(DoctorFinding.Warning));
            Assert.That(bloat.Examples, Has.Some.Match(@"^hermes_outbox_pkey on hermes_outbox: \d+ pages, about 1 needed"));
            Assert.That(report.Findings.Single(static f => f.Check == "dead_tuples").Severity, Is.EqualTo(DoctorFinding.Ok), "after the vacuum");
        }
        finally
        {
            await ExecuteAsync("ALTER TABLE hermes_outbox RESET (autovacuum_enabled)");
        }
    }

    [Test]
    public async Task Doctor_warns_of_days_missing_ahead_and_fails_without_todays()
    {
        await AddLeadAsync(OutboxStatus.Pending);
        const string DropFrom = "DO $$ DECLARE p text; BEGIN FOR p IN SELECT partition_name FROM hermes_attempt_partitions() WHERE ends_at > now() + $1::interval LOOP EXECUTE format('DROP TABLE %I', p); END LOOP; END $$";
        await ExecuteAsync(DropFrom.Replace("$1", "'1 day'", StringComparison.Ordinal));

        var ahead = await CliAsync("doctor");
        await ExecuteAsync(DropFrom.Replace("$1", "'-1 day'", StringComparison.Ordinal));
        var today = await CliAsync("doctor");
        await ExecuteAsync("SELECT hermes_attempt_partitions_ensure((now() AT TIME ZONE 'UTC')::date, 8)");
        var restored = await CliAsync("doctor");

        Assert.That(ahead.ExitCode, Is.Zero, ahead.ToString());
        Assert.That(ahead.Output, Does.Match(@"WARNING\s+attempt_partitions\s+\d day\(s\) within 2d have no attempt log partition"));
        Assert.That(today.ExitCode, Is.EqualTo(1), today.ToString());
        Assert.That(today.Output, Does.Match(@"PROBLEM\s+attempt_partitions\s+\d day\(s\) have no attempt log partition, today's"));
        Assert.That(today.Output, Does.Contain(DateTimeOffset.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)));
        Assert.That(restored.ExitCode, Is.Zero, restored.ToString());
        Assert.That(restored.Output, Does.Match(@"ok\s+attempt_partitions"));
    }
}
