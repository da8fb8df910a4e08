using Hermes.Domain;
using Hermes.Outbox.Worker;
using Hermes.Outbox.Worker.Health;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Hermes.Tests.Worker;

/// <summary>
/// A lease holds while its outcome is written: a worker whose outcome cannot be written before its lease ends (less the
/// margin) stops itself, and no other worker sends the row while its lead is locked.
/// </summary>
[NonParallelizable] // its lease arithmetic runs on real seconds (8 s leases, 2 s requests), which a busy neighbour stretches
public sealed class OutcomeLeaseTests : WorkerTest
{
    private static readonly Dictionary<string, string?> ShortLease = new()
    {
        ["Outbox:Lease"] = "00:00:03",
        ["Outbox:RequestTimeout"] = "00:00:01",
        ["Outbox:BatchSize"] = "1",
        ["Outbox:Concurrency"] = "1",
    };

    [Test]
    public async Task A_lead_locked_past_the_lease_while_its_outcome_is_written_is_posted_once_and_the_worker_that_cannot_write_stops()
    {
        var (lead, message) = await InsertLeadAsync();
        var webhookId = WebhookIds.MessageIdFor(lead.LeadId);
        await using var locker = await DataSource.OpenConnectionAsync();
        await using var lockTransaction = await locker.BeginTransactionAsync();
        string? holderId = null;
        Receiver.Behaviour = async (request, context) =>
        {
            if (request.Index == 0)
            {
                // An admin's transaction takes the lead's row lock while the delivery is answered: the outcome must wait for it.
                holderId = await ScalarAsync<string>("SELECT locked_by FROM hermes_outbox WHERE id = $1", message.Id);
                await using var take = new NpgsqlCommand("SELECT id FROM hermes_leads WHERE id = $1 FOR UPDATE", locker, lockTransaction) { Parameters = { new() { Value = lead.BackupId } } };
                await take.ExecuteNonQueryAsync();
            }

            await WebhookReceiver.Json(200, """{"brevoContactId": 4711}""")(context);
        };
        await using var first = await StartWorkerAsync(ShortLease);
        await using var second = await StartWorkerAsync(ShortLease);

        bool? stoppedWithinLease = null;
        await WaitUntilAsync(async () =>
        {
            if (holderId is not null && (holderId == first.WorkerId ? first : second).Stopping.IsCancellationRequested)
            {
                stoppedWithinLease ??= await ScalarAsync<bool>("SELECT clock_timestamp() < available_at FROM hermes_outbox WHERE id = $1", message.Id);
                return true;
            }

            return PostsOf(webhookId) > 1;
        }, "the worker holding the claim stops itself, or the row is POSTed again", TimeSpan.FromSeconds(20));

        Assert.That(PostsOf(webhookId), Is.EqualTo(1), "no second POST while the first worker is alive and its lead is locked");
        var (holder, other) = holderId == first.WorkerId ? (first, second) : (second, first);
        Assert.That(stoppedWithinLease, Is.True, "it stops before its lease ends");

        // The lease has ended; one claim at a time, oldest first: a claim that could take the locked lead's row would send
        // it before this later one.
        await WaitUntilAsync(async () => await ScalarAsync<bool>("SELECT clock_timestamp() > available_at FROM hermes_outbox WHERE id = $1", message.Id), "the lease ends");
        var (_, later) = await InsertLeadAsync();
        await WaitForOutboxStatusAsync(later.Id, "delivered");

        var health = await ActivatorUtilities.CreateInstance<OutcomeWriterHealthCheck>(holder.Services).CheckHealthAsync(new HealthCheckContext());
        Assert.Multiple(() =>
        {
            Assert.That(PostsOf(webhookId), Is.EqualTo(1), "the row of a locked lead is not claimed");
            // The server's timeout ends the wait; on a loaded machine its answer can come after the client-side backstop
            // (half a margin later) has cancelled the write: either way the write was bounded and the worker stopped.
            Assert.That(holder.State.FatalError, Does.Contain("lease").And.Match("SQLSTATE (55P03|57014)|(Operation|Task)CanceledException"),
                "the wait for the lock was bounded (lock_timeout or statement_timeout, or the client-side backstop)");
            Assert.That(WorkerHost.ExitCodeOf(holder.Services), Is.EqualTo(WorkerHost.FatalExitCode));
            Assert.That(health.Status, Is.EqualTo(HealthStatus.Unhealthy));
            Assert.That(holder.Log.Count(static e => e.EventId == 4035), Is.EqualTo(1));
            Assert.That(other.State.FatalError, Is.Null);
        });

        // Once the lock is gone the row comes back: the one extra POST the guarantee allows for a worker that stopped
        // while holding its claim, with the same webhook-id.
        await lockTransaction.CommitAsync();
        await WaitForOutboxStatusAsync(message.Id, "delivered");
        Assert.That(PostsOf(webhookId), Is.EqualTo(2));
        Assert.That(await ScalarAsync<string>("SELECT locked_by FROM hermes_outbox WHERE id = $1", message.Id), Is.EqualTo(other.WorkerId));
        Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_leads WHERE id = $1", lead.BackupId), Is.EqualTo(LeadStatus.Forwarded.ToDatabase()));
        Assert.That(other.State.FatalError, Is.Null);
    }

    [Test]
    public async Task A_claimed_row_whose_lease_has_too_little_left_for_a_post_and_its_outcome_is_released_not_sent()
    {
        var rows = await InsertLeadsAsync(2);
        var clock = new JumpingClock();
        var answer = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Receiver.Behaviour = async (request, context) =>
        {
            if (request.Index == 0)
            {
                await answer.Task;
            }

            await WebhookReceiver.Json(200, """{"brevoContactId": 1}""")(context);
        };
        // Both rows in one claim, one slot: the second waits for the first. Lease 8 s, margin 0.8 s, requests up to 2 s:
        // an outcome is due by 7.2 s after the claim, and a POST must start by 5.2 s.
        await using var worker = await WorkerUnderTest.StartAsync(ConnectionString, Receiver.Url, new Dictionary<string, string?>
        {
            ["Outbox:Lease"] = "00:00:08",
            ["Outbox:RequestTimeout"] = "00:00:02",
            ["Outbox:BatchSize"] = "2",
            ["Outbox:Concurrency"] = "1",
            ["Outbox:PollInterval"] = "00:01:00",
        }, services: s => s.AddSingleton<TimeProvider>(clock));
        var first = (await Receiver.WaitForAsync(1)).Single();

        // The worker's clock jumps 6.2 s past the claim while the first POST is answered (a stalled process): the
        // first outcome is still in time; the second row's POST could no longer finish within its lease.
        clock.Offset = TimeSpan.FromSeconds(6.2) - (DateTimeOffset.UtcNow - first.ReceivedAt);
        answer.SetResult();
        await WaitForAllDeliveredAsync(2);

        Assert.That(worker.Log.Where(static e => e.EventId == 4040).Select(static e => e.Message),
            Is.EqualTo(new[] { "Released 1 claimed rows that were not sent (too little of their lease was left to send them and write the outcome)" }));
        Assert.That(Receiver.Requests.Select(static r => r.WebhookId), Is.EqualTo(rows.Select(static r => WebhookIds.MessageIdFor(r.Lead.LeadId))), "each row POSTed once");
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE attempts = 1"), Is.EqualTo(2), "the release gave the unsent attempt back");
        Assert.That(worker.State.FatalError, Is.Null, "the first outcome was written in time");
    }

    private int PostsOf(string webhookId) => Receiver.Requests.Count(r => r.WebhookId == webhookId);

    /// <summary>The system clock, moved on by <see cref="Offset"/>; timers and timestamps stay the system's.</summary>
    private sealed class JumpingClock : TimeProvider
    {
        private long _offsetTicks;

        public TimeSpan Offset { get => TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks)); set => Interlocked.Exchange(ref _offsetTicks, value.Ticks); }

        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + Offset;
    }
}
