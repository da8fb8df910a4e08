namespace Hermes.Tests.Worker;

/// <summary>
/// When the worker's automatic recovery (<c>Outbox:AutoRecover</c>) runs, against a receiver that plays the outage:
/// never while it is off, and only after a delivery (a 2xx), not after a probe that n8n answered 4xx.
/// </summary>
public sealed class OutageRecoveryTests : WorkerTest
{
    // Longer than the recovery's settle time (1 s) and its statement: a 4xx probe signals nothing, so there is no
    // event to await that says recovery will not come; the test shows it does not by waiting this long.
    private static readonly TimeSpan RecoveryWouldHaveRun = TimeSpan.FromSeconds(3);

    private static Dictionary<string, string?> Settings(bool autoRecover) => new()
    {
        ["Outbox:MaxAttempts"] = "1",
        ["Outbox:CircuitBreaker:MinimumThroughput"] = "2",
        ["Outbox:CircuitBreaker:SamplingDuration"] = "00:00:10",
        ["Outbox:CircuitBreaker:BreakDuration"] = "00:00:00.500",
        ["Outbox:AutoRecover"] = autoRecover ? "true" : null,
        ["Outbox:AutoRecoverSpacing"] = "00:00:00",
        // One attempt each, so a POST the receiver answers at once must not time out: on a CI machine whose two cores
        // are saturated, the tests' two-second limit cut a recovered row's only POST off, and it failed for good.
        ["Outbox:RequestTimeout"] = "00:00:08",
    };

    [Test]
    public async Task Off_by_default_rows_that_gave_up_in_an_outage_stay_failed_after_it()
    {
        // The trail is append-only: this class's other test may have written to it.
        var auditBefore = await ScalarAsync<long>("SELECT coalesce(max(id), 0) FROM hermes_audit");
        Receiver.Behaviour = static (_, context) => WebhookReceiver.Json(503, null)(context);
        await using var worker = await StartWorkerAsync(Settings(autoRecover: false));
        var failed = await InsertLeadsAsync(3);
        foreach (var (_, message) in failed)
        {
            await WaitForOutboxStatusAsync(message.Id, "failed");
        }

        Receiver.Behaviour = static (_, context) => WebhookReceiver.Json(200, """{"brevoContactId": 1}""")(context);
        var (_, after) = await InsertLeadAsync();
        await WaitForOutboxStatusAsync(after.Id, "delivered", TimeSpan.FromSeconds(15));
        // The worker saw the outage end and, recovery off, said so instead of recovering.
        await WaitUntilAsync(() => Task.FromResult(worker.Log.Any(static e => e.EventId == 4053)), "the worker logs that the outage ended without recovery", TimeSpan.FromSeconds(15));

        Assert.That(await ScalarAsync<string>("SELECT string_agg(status || ':' || replay_count || ':' || failure_class, ',' ORDER BY id) FROM hermes_outbox WHERE id <> $1", after.Id),
            Is.EqualTo("failed:0:outage,failed:0:outage,failed:0:outage"));
        Assert.That(Receiver.Requests.Count(r => r.WebhookId.EndsWith("_r1", StringComparison.Ordinal)), Is.Zero, "nothing was sent again");
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_audit WHERE action = 'auto_recover' AND id > $1", auditBefore), Is.Zero);
        Assert.That(worker.Log.Count(static e => e.EventId == 4050), Is.Zero);
    }

    [Test]
    public async Task A_probe_answered_4xx_ends_no_outage_and_the_next_delivery_does()
    {
        var auditBefore = await ScalarAsync<long>("SELECT coalesce(max(id), 0) FROM hermes_audit");
        Receiver.Behaviour = static (_, context) => WebhookReceiver.Json(503, null)(context);
        await using var worker = await StartWorkerAsync(Settings(autoRecover: true));
        var failed = await InsertLeadsAsync(3);
        foreach (var (_, message) in failed)
        {
            await WaitForOutboxStatusAsync(message.Id, "failed");
        }

        // The probe is refused for its content: the circuit closes, but n8n took nothing.
        Receiver.Behaviour = static (_, context) => WebhookReceiver.Json(422, """{"error": "invalid"}""")(context);
        var (_, refused) = await InsertLeadAsync();
        await WaitForOutboxStatusAsync(refused.Id, "failed", TimeSpan.FromSeconds(15));
        await Task.Delay(RecoveryWouldHaveRun);
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'failed' AND replay_count = 0"), Is.EqualTo(4), "nothing recovered yet");

        Receiver.Behaviour = static (_, context) => WebhookReceiver.Json(200, """{"brevoContactId": 1}""")(context);
        var (_, after) = await InsertLeadAsync();
        await WaitForOutboxStatusAsync(after.Id, "delivered", TimeSpan.FromSeconds(15));
        foreach (var (_, message) in failed)
        {
            await WaitForOutboxStatusAsync(message.Id, "delivered", TimeSpan.FromSeconds(15));
        }

        Assert.That(await ScalarAsync<string>("SELECT status || ':' || replay_count || ':' || failure_class FROM hermes_outbox WHERE id = $1", refused.Id), Is.EqualTo("failed:0:content"));
        var resent = Receiver.Requests.Where(static r => r.WebhookId.EndsWith("_r1", StringComparison.Ordinal)).Select(static r => r.WebhookId).ToList();
        Assert.That(resent, Has.Count.EqualTo(3).And.Unique, "each outage row sent again once, as replay generation 1");
        Assert.That(await ScalarAsync<string>("SELECT string_agg(actor || ':' || lead_count, ',') FROM hermes_audit WHERE action = 'auto_recover' AND id > $1", auditBefore), Is.EqualTo("system:auto-recover:3"));
        // The recovery logs once its transaction has committed, and the rows it replayed wake the worker at that commit:
        // they can be delivered before the line is written (seen once in CI), so it is awaited, then counted.
        await WaitUntilAsync(() => Task.FromResult(worker.Log.Any(static e => e.EventId == 4050)), "the worker logs the recovery", TimeSpan.FromSeconds(15));
        Assert.That(worker.Log.Count(static e => e.EventId == 4050), Is.EqualTo(1));
    }
}
