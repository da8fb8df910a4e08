using Npgsql;

namespace Hermes.Tests.Worker;

/// <summary>
/// A row due now whose lead is locked (an erase or a replay open on it, an operator's transaction) is skipped by the
/// claim. The worker then waits longer after each empty claim, instead of claiming again every 5 ms for as long as the
/// lock stands, and delivers the row once the lock goes. Counted on PostgreSQL's side: scans of the pending index,
/// which each claim and each look at the next due row make.
/// </summary>
public sealed class LockedRowBackoffTests : WorkerTest
{
    private const string PendingIndexScans = "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'idx_hermes_outbox_pending'";

    [Test]
    public async Task A_due_row_whose_lead_is_locked_is_tried_with_a_growing_wait_and_delivered_once_the_lock_goes()
    {
        var (lead, message) = await InsertLeadAsync();
        var scansBefore = await ScalarAsync<long>(PendingIndexScans);
        await using (var holder = await DataSource.OpenConnectionAsync())
        {
            await using var transaction = await holder.BeginTransactionAsync();
            await using (var lockLead = new NpgsqlCommand("SELECT 1 FROM hermes_leads WHERE id = $1 FOR UPDATE", holder, transaction) { Parameters = { new() { Value = lead.BackupId } } })
            {
                await lockLead.ExecuteNonQueryAsync();
            }

            // The shipped poll interval, so that the back-off's own cap (1 s), not the tests' 200 ms poll, bounds the wait.
            await using var worker = await StartWorkerAsync(new Dictionary<string, string?> { ["Outbox:PollInterval"] = "00:00:05" });
            // Real time: the subject is a lock PostgreSQL holds. Three seconds of it were ~600 empty claims before.
            await Task.Delay(TimeSpan.FromSeconds(3));
            Assert.That(Receiver.Requests, Is.Empty, "the locked lead's row is not sent while its lead is locked");
            await transaction.RollbackAsync();

            await WaitForOutboxStatusAsync(message.Id, "delivered", TimeSpan.FromSeconds(10));
        }

        // A backend flushes its statistics when it exits: wait for the worker's to be gone.
        await WaitUntilAsync(async () => await ScalarAsync<long>(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'hermes-worker%'") == 0,
            "the worker's connections are closed");
        var scans = await ScalarAsync<long>(PendingIndexScans) - scansBefore;

        Assert.That(scans, Is.GreaterThan(4).And.LessThan(60), "scans of the pending index while the lead was locked (claims and next-due looks)");
        Assert.That(Receiver.Requests, Has.Count.EqualTo(1));
    }
}
