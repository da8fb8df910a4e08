using Hermes.Outbox.Worker.Delivery;
using Hermes.Persistence.Outbox;
using Hermes.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Polly.CircuitBreaker;

namespace Hermes.Tests.Worker;

/// <summary>Several workers, dead workers, shutdown and the circuit breaker: who delivers what, and how often.</summary>
public sealed class ClaimAndLeaseTests : WorkerTest
{
    [Test]
    public async Task Two_dispatchers_on_one_table_deliver_every_row_exactly_once()
    {
        const int count = 300;
        Receiver.Behaviour = static async (_, context) =>
        {
            await Task.Delay(Random.Shared.Next(0, 3));
            await WebhookReceiver.Json(200, """{"brevoContactId": 1}""")(context);
        };
        var settings = new Dictionary<string, string?> { ["Outbox:BatchSize"] = "10", ["Outbox:Concurrency"] = "4" };
        await using var first = await StartWorkerAsync(settings);
        await using var second = await StartWorkerAsync(settings);

        await InsertLeadsAsync(count);
        await WaitForAllDeliveredAsync(count, TimeSpan.FromSeconds(60));
        await Task.Delay(200);

        var ids = Receiver.Requests.Select(static r => r.WebhookId).ToList();
        Assert.That(ids, Has.Count.EqualTo(count));
        Assert.That(ids, Is.Unique);
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE attempts <> 1"), Is.Zero);
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_delivery_attempts"), Is.EqualTo(count));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_leads WHERE status = 'forwarded'"), Is.EqualTo(count));
    }

    [Test]
    public async Task Row_claimed_by_a_worker_that_died_is_delivered_after_its_lease_ends()
    {
        var (_, message) = await InsertLeadAsync();
        var store = new OutboxStore(DataSource);
        var lease = TimeSpan.FromSeconds(1.5);
        var claimed = await store.ClaimAsync(10, lease, "dead-worker", CancellationToken.None);
        Assert.That(claimed.Select(static c => c.Id), Is.EqualTo(new[] { message.Id }));
        var claimedAt = DateTimeOffset.UtcNow;
        // The dead worker never sends anything and never writes back.
        await using var worker = await StartWorkerAsync(new Dictionary<string, string?> { ["Outbox:PollInterval"] = "00:01:00" });

        await WaitForOutboxStatusAsync(message.Id, "delivered", TimeSpan.FromSeconds(10));

        var request = Receiver.Requests.Single();
        Assert.That(request.ReceivedAt, Is.GreaterThanOrEqualTo(claimedAt + lease - TimeSpan.FromMilliseconds(100)), "not before the lease ends");
        Assert.That(request.Attempt, Is.EqualTo(2), "the dead worker's claim counted as an attempt");
        Assert.That(await ScalarAsync<string>("SELECT locked_by FROM hermes_outbox WHERE id = $1", message.Id), Is.EqualTo(worker.WorkerId));
    }

    [Test]
    public async Task Claim_skips_rows_leased_by_another_worker_and_rows_not_yet_due()
    {
        var rows = await InsertLeadsAsync(3);
        await ExecuteAsync("UPDATE hermes_outbox SET available_at = now() + interval '1 hour' WHERE id = $1", rows[2].Message.Id);
        var store = new OutboxStore(DataSource);

        var first = await store.ClaimAsync(1, TimeSpan.FromMinutes(1), "a", CancellationToken.None);
        var second = await store.ClaimAsync(10, TimeSpan.FromMinutes(1), "b", CancellationToken.None);
        var third = await store.ClaimAsync(10, TimeSpan.FromMinutes(1), "c", CancellationToken.None);

        Assert.That(first.Select(static c => c.Id), Is.EqualTo(new[] { rows[0].Message.Id }));
        Assert.That(second.Select(static c => c.Id), Is.EqualTo(new[] { rows[1].Message.Id }));
        Assert.That(third, Is.Empty);
        Assert.That(first[0].Attempt, Is.EqualTo(1));
        Assert.That(first[0].LeadId, Is.EqualTo(rows[0].Lead.LeadId));
        Assert.That(first[0].MessageId, Is.EqualTo("msg_" + rows[0].Lead.LeadId));
        Assert.That(await ScalarAsync<string>("SELECT locked_by FROM hermes_outbox WHERE id = $1", rows[1].Message.Id), Is.EqualTo("b"));
    }

    [Test]
    public async Task Shutdown_releases_claimed_rows_not_yet_started_and_finishes_the_one_in_flight()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Receiver.Behaviour = async (_, context) =>
        {
            await gate.Task.WaitAsync(context.RequestAborted);
            await WebhookReceiver.Json(200, """{"brevoContactId": 1}""")(context);
        };
        var rows = await InsertLeadsAsync(4);
        var worker = await StartWorkerAsync(new Dictionary<string, string?> { ["Outbox:BatchSize"] = "4", ["Outbox:Concurrency"] = "1" });
        await Receiver.WaitForAsync(1);
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE locked_by = $1 AND attempts = 1", worker.WorkerId), Is.EqualTo(4), "all four claimed in one batch");

        var stopping = worker.StopAsync();
        // Released at once, while the first delivery is still in flight.
        await WaitUntilAsync(async () => await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE attempts = 0 AND locked_by IS NULL AND available_at <= now()") == 3, "the three unstarted rows are released");
        Assert.That(stopping.IsCompleted, Is.False, "the delivery in flight is still awaited");
        gate.SetResult();
        await stopping;
        await worker.DisposeAsync();

        Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_outbox WHERE id = $1", rows[0].Message.Id), Is.EqualTo("delivered"));
        Assert.That(Receiver.Count, Is.EqualTo(1));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'pending'"), Is.EqualTo(3));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_delivery_attempts"), Is.EqualTo(1), "released rows leave no attempt behind");

        // Another worker takes them straight away.
        await using var next = await StartWorkerAsync(new Dictionary<string, string?> { ["Outbox:PollInterval"] = "00:01:00" });
        await WaitForAllDeliveredAsync(4, TimeSpan.FromSeconds(5));
        Assert.That(Receiver.Requests.Skip(1).Select(static r => r.Attempt), Is.All.EqualTo(1));
    }

    [Test]
    public async Task Open_circuit_stops_claiming_so_no_attempts_are_burned_and_a_probe_resumes_delivery()
    {
        // The break runs on the worker's clock, a fake one: the circuit opens for 30 s of it, and the test moves it.
        var clock = new TestClock();
        var healthy = false;
        Receiver.Behaviour = (_, context) => Volatile.Read(ref healthy)
            ? WebhookReceiver.Json(200, """{"brevoContactId": 1}""")(context)
            : WebhookReceiver.Json(500, "down", "text/plain")(context);
        await InsertLeadsAsync(2);
        await using var worker = await WorkerUnderTest.StartAsync(ConnectionString, Receiver.Url, new Dictionary<string, string?>
        {
            ["Outbox:CircuitBreaker:MinimumThroughput"] = "2",
            ["Outbox:CircuitBreaker:FailureRatio"] = "1",
            ["Outbox:CircuitBreaker:BreakDuration"] = "00:00:30",
            ["Outbox:CircuitBreaker:SamplingDuration"] = "00:01:00",
        }, services: s => s.AddSingleton<TimeProvider>(clock));
        await WaitUntilAsync(() => Task.FromResult(worker.State.Circuit == CircuitState.Open), "the circuit opens");
        Assert.That(Receiver.Count, Is.EqualTo(2));

        // New rows arrive and the worker is woken; the two failed rows come due again (their retry time is the
        // server's now() plus milliseconds). 29 s of the 30-second break pass, a second at a time: each time the
        // dispatcher's wait on the clock ends and it looks at the circuit again (a new timer is its next wait).
        var later = await InsertLeadsAsync(3);
        worker.Services.GetRequiredService<IOutboxWakeUp>().Signal();
        await WaitUntilAsync(async () => await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'pending' AND available_at <= now()") == 5, "every row is due");
        for (var second = 0; second < 29; second++)
        {
            var timers = clock.TimersCreated;
            clock.Advance(TimeSpan.FromSeconds(1));
            await clock.TimersCreatedAsync(timers + 1);
        }

        Assert.That(worker.State.Circuit, Is.EqualTo(CircuitState.Open));
        Assert.That(Receiver.Count, Is.EqualTo(2), "nothing is sent while the circuit is open");
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE attempts = 0"), Is.EqualTo(3), "the new rows' attempts are unchanged");
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE attempts = 1"), Is.EqualTo(2), "the failed rows, due again, are not claimed either (a claim counts an attempt)");

        // The break ends on the clock: one probe, then the rest. The clock moves on by 50 ms a look, so the
        // dispatcher's short waits (its circuit check, its idle wait until the next due row) end.
        Volatile.Write(ref healthy, true);
        clock.Advance(TimeSpan.FromSeconds(1));
        await WaitUntilAsync(async () =>
        {
            clock.Advance(TimeSpan.FromMilliseconds(50));
            return await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'delivered'") == 5;
        }, "every row is delivered");

        Assert.That(worker.State.Circuit, Is.EqualTo(CircuitState.Closed));
        Assert.That(Receiver.Count, Is.EqualTo(2 + 5), "the two failures, then one probe and the rest, nothing twice");
        Assert.That(Receiver.Requests.Skip(2).Select(static r => r.WebhookId), Is.Unique);
        foreach (var (_, message) in later)
        {
            Assert.That(await ScalarAsync<int>("SELECT attempts FROM hermes_outbox WHERE id = $1", message.Id), Is.EqualTo(1));
        }
    }
}
