using System.Text.Json;
using Hermes.Domain;
using Hermes.Persistence.Operations;
using Npgsql;

namespace Hermes.Tests.Operations;

public sealed class ReplayTests : OperationsTest
{
    [Test]
    public async Task Replay_resets_exactly_the_failed_rows_and_requeues_their_leads()
    {
        var failed1 = await AddLeadAsync(OutboxStatus.Failed);
        var failed2 = await AddLeadAsync(OutboxStatus.Failed);
        var delivered = await AddLeadAsync(OutboxStatus.Delivered);
        var pending = await AddLeadAsync(OutboxStatus.Pending);
        var cancelled = await AddLeadAsync(OutboxStatus.Cancelled);

        var run = await CliAsync("replay", "--yes");

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(run.Output, Does.Contain("Replayed 2 failed outbox rows"));
        Assert.That(run.Output, Does.Contain(failed1.LeadId).And.Contain(failed2.LeadId));
        foreach (var row in new[] { failed1, failed2 })
        {
            await using var command = DataSource.CreateCommand(
                "SELECT status, attempts, replay_count, locked_by, last_error, available_at <= now() FROM hermes_outbox WHERE id = $1");
            command.Parameters.Add(new NpgsqlParameter { Value = row.OutboxId });
            await using var reader = await command.ExecuteReaderAsync();
            await reader.ReadAsync();
            Assert.That(reader.GetString(0), Is.EqualTo("pending"));
            Assert.That(reader.GetInt32(1), Is.Zero, "attempts zeroed");
            Assert.That(reader.GetInt32(2), Is.EqualTo(1), "replay_count raised");
            Assert.That(reader.IsDBNull(3), Is.True, "locked_by cleared");
            Assert.That(reader.IsDBNull(4), Is.True, "last_error cleared");
            Assert.That(reader.GetBoolean(5), Is.True, "available now");
            Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_leads WHERE id = $1", row.BackupId), Is.EqualTo(LeadStatus.Queued.ToDatabase()));
        }

        Assert.That(await OutboxStatusAsync(delivered.OutboxId), Is.EqualTo("delivered"));
        Assert.That(await OutboxStatusAsync(pending.OutboxId), Is.EqualTo("pending"));
        Assert.That(await OutboxStatusAsync(cancelled.OutboxId), Is.EqualTo("cancelled"));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE replay_count > 0"), Is.EqualTo(2));
        Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_leads WHERE id = $1", delivered.BackupId), Is.EqualTo(LeadStatus.Forwarded.ToDatabase()));
    }

    [Test]
    public async Task Replay_of_chosen_leads_and_status_leaves_every_other_row_alone()
    {
        var a = await AddLeadAsync(OutboxStatus.Delivered);
        var b = await AddLeadAsync(OutboxStatus.Delivered);
        var c = await AddLeadAsync(OutboxStatus.Delivered);
        var failed = await AddLeadAsync(OutboxStatus.Failed);

        var run = await CliAsync("replay", "--yes", "--status", "delivered", "--lead", a.LeadId, "--lead", c.LeadId, "--lead", failed.LeadId, "--json");

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        var result = JsonSerializer.Deserialize(run.Output, OperationsJsonContext.Default.ReplayResult)!;
        Assert.That(result.Count, Is.EqualTo(2));
        Assert.That(result.DryRun, Is.False);
        Assert.That(result.LeadIds, Is.EqualTo(new[] { a.LeadId, c.LeadId }));
        Assert.That(await OutboxStatusAsync(a.OutboxId), Is.EqualTo("pending"));
        Assert.That(await OutboxStatusAsync(b.OutboxId), Is.EqualTo("delivered"));
        Assert.That(await OutboxStatusAsync(c.OutboxId), Is.EqualTo("pending"));
        Assert.That(await OutboxStatusAsync(failed.OutboxId), Is.EqualTo("failed"), "a failed row is not replayed by --status delivered");
    }

    [Test]
    public async Task Replay_by_time_range_takes_rows_created_since_and_before_until()
    {
        var now = DateTimeOffset.UtcNow;
        var old = await AddLeadAsync(OutboxStatus.Failed, createdAt: now.AddDays(-3));
        var middle = await AddLeadAsync(OutboxStatus.Failed, createdAt: now.AddHours(-30));
        var recent = await AddLeadAsync(OutboxStatus.Failed, createdAt: now.AddMinutes(-10));

        var run = await CliAsync("replay", "--yes", "--since", now.AddDays(-2).ToString("O"), "--until", "2h");

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(run.Output, Does.Contain("Replayed 1 failed outbox row:"));
        Assert.That(await OutboxStatusAsync(old.OutboxId), Is.EqualTo("failed"));
        Assert.That(await OutboxStatusAsync(middle.OutboxId), Is.EqualTo("pending"));
        Assert.That(await OutboxStatusAsync(recent.OutboxId), Is.EqualTo("failed"));
    }

    [Test]
    public async Task Dry_run_lists_the_rows_and_changes_nothing()
    {
        var failed = await AddLeadAsync(OutboxStatus.Failed);
        await AddLeadAsync(OutboxStatus.Delivered);
        var before = await SnapshotAsync();

        var human = await CliAsync("replay", "--dry-run");
        var json = await CliAsync("replay", "--dry-run", "--json");

        Assert.That(human.ExitCode, Is.Zero, human.ToString());
        Assert.That(human.Output, Does.Contain("Would replay 1 failed outbox row (dry run: nothing was changed)").And.Contain(failed.LeadId));
        var result = JsonSerializer.Deserialize(json.Output, OperationsJsonContext.Default.ReplayResult)!;
        Assert.That(result.DryRun, Is.True);
        Assert.That(result.Count, Is.EqualTo(1));
        Assert.That(result.LeadIds, Is.EqualTo(new[] { failed.LeadId }));
        Assert.That(await SnapshotAsync(), Is.EqualTo(before));
    }

    [Test]
    public async Task Replay_never_resends_an_erased_lead()
    {
        var lead = await AddLeadAsync(OutboxStatus.Pending, email: "gone@example.com");
        Assert.That((await CliAsync("erase", "--yes", "--lead", lead.LeadId)).ExitCode, Is.Zero);

        var run = await CliAsync("replay", "--yes", "--status", "cancelled", "--json");

        Assert.That(JsonSerializer.Deserialize(run.Output, OperationsJsonContext.Default.ReplayResult)!.Count, Is.Zero);
        Assert.That(await OutboxStatusAsync(lead.OutboxId), Is.EqualTo("cancelled"));
    }

    [Test]
    public async Task Replay_lists_at_most_a_hundred_leads_but_counts_them_all()
    {
        for (var i = 0; i < 103; i++)
        {
            await AddLeadAsync(OutboxStatus.Failed);
        }

        var run = await CliAsync("replay", "--yes");

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(run.Output, Does.Contain("Replayed 103 failed outbox rows").And.Contain("… and 3 more"));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'pending'"), Is.EqualTo(103));
    }

    [Test]
    public async Task Replay_with_nothing_to_do_says_so()
    {
        await AddLeadAsync(OutboxStatus.Delivered);
        var run = await CliAsync("replay", "--yes");
        Assert.That(run.ExitCode, Is.Zero);
        Assert.That(run.Output, Does.Contain("No failed outbox row matched"));
    }

    [TestCase("--status", "pending")]
    [TestCase("--since", "yesterday")]
    [TestCase("--until", "2026-13-45")]
    [TestCase("--bogus", "1")]
    public async Task Replay_with_a_bad_option_is_a_usage_error(string option, string value)
    {
        await AddLeadAsync(OutboxStatus.Failed);
        var run = await CliAsync("replay", "--yes", option, value);
        Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
        Assert.That(run.Error, Does.Contain("--help"));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'failed'"), Is.EqualTo(1));
    }

    [Test]
    public async Task Replay_with_since_after_until_is_a_usage_error()
    {
        var run = await CliAsync("replay", "--yes", "--since", "1h", "--until", "2h");
        Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
        Assert.That(run.Error, Does.Contain("--until"));
    }

    [Test]
    public async Task The_replay_operation_refuses_an_invalid_request()
    {
        var replay = new OutboxReplay(DataSource);
        Assert.That(new ReplayRequest { Status = "pending", LeadIds = [""] }.Validate().Keys, Is.EquivalentTo(new[] { "status", "leadIds" }));
        await Assert.ThrowsAsync<ArgumentException>(() => replay.ReplayAsync(new ReplayRequest { Status = "pending" }, CancellationToken.None));
    }

    [Test]
    public async Task Replay_notifies_the_listening_workers_and_a_dry_run_does_not()
    {
        await AddLeadAsync(OutboxStatus.Failed);
        await using var listener = await DataSource.OpenConnectionAsync();
        var channels = new List<string>();
        listener.Notification += (_, e) => channels.Add(e.Channel);
        await using (var listen = new NpgsqlCommand("LISTEN hermes_outbox", listener))
        {
            await listen.ExecuteNonQueryAsync();
        }

        Assert.That((await CliAsync("replay", "--dry-run")).ExitCode, Is.Zero);
        Assert.That(await listener.WaitAsync(TimeSpan.FromMilliseconds(300)), Is.False, "a dry run must not wake the workers");

        Assert.That((await CliAsync("replay", "--yes")).ExitCode, Is.Zero);
        Assert.That(await listener.WaitAsync(TimeSpan.FromSeconds(5)), Is.True, "replay must wake the workers");
        Assert.That(channels, Is.EqualTo(new[] { "hermes_outbox" }));
    }

    private async Task<string> SnapshotAsync() =>
        await ScalarAsync<string>("""
            SELECT string_agg(concat_ws('|', o.id, o.status, o.attempts, o.available_at, o.locked_by, o.replay_count, o.last_error, l.status), ';' ORDER BY o.id)
            FROM hermes_outbox o JOIN hermes_leads l ON l.id = o.lead_id
            """);
}
