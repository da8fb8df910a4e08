using Microsoft.Extensions.Options;

namespace Hermes.Tests.Worker;

/// <summary>A bad setting stops the worker at start with a message naming the key.</summary>
public sealed class ConfigurationTests : WorkerTest
{
    [TestCase("N8N_WEBHOOK_URL", "", "N8N_WEBHOOK_URL is not set")]
    [TestCase("N8N_WEBHOOK_URL", "ftp://n8n.example.com/webhook", "N8N_WEBHOOK_URL must be an absolute http")]
    [TestCase("N8N_WEBHOOK_URL", "/webhook/relative", "N8N_WEBHOOK_URL must be an absolute http")]
    [TestCase("HERMES_WEBHOOK_SECRET", "not-a-secret", "HERMES_WEBHOOK_SECRET (secret 1)")]
    [TestCase("HERMES_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_???", "HERMES_WEBHOOK_SECRET (secret 2)")]
    [TestCase("Outbox:Lease", "00:00:03", "Outbox:Lease")]
    [TestCase("Outbox:BatchSize", "0", "Outbox:BatchSize")]
    [TestCase("Outbox:Concurrency", "100000", "Outbox:Concurrency")]
    [TestCase("Outbox:MaxAttempts", "0", "Outbox:MaxAttempts")]
    [TestCase("Outbox:MaxDelay", "00:00:00.001", "Outbox:MaxDelay")]
    [TestCase("Outbox:CircuitBreaker:FailureRatio", "1.5", "Outbox:CircuitBreaker:FailureRatio")]
    [TestCase("Outbox:CircuitBreaker:MinimumThroughput", "1", "Outbox:CircuitBreaker:MinimumThroughput")]
    [TestCase("Outbox:AutoRecoverMaxRows", "0", "Outbox:AutoRecoverMaxRows must be between 1 and 100000")]
    [TestCase("Outbox:AutoRecoverSpacing", "00:05:00", "Outbox:AutoRecoverSpacing must be between")]
    [TestCase("Webhook:AuthHeaderName", "X-Key", "Webhook:AuthHeaderValue must be set together")]
    public async Task Bad_setting_stops_the_worker_naming_the_key(string key, string value, string expected)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartWorkerAsync(new Dictionary<string, string?> { [key] = value }));

        Assert.That(error!.Message, Does.Contain(expected));
        Assert.That(Receiver.Count, Is.Zero);
    }

    [Test]
    public async Task Lease_rule_counts_the_waves_of_a_batch()
    {
        // 2 s timeout, 10 rows, 4 at a time: ⌈10 ÷ 4⌉ + 1 = 4 waves, so the lease must exceed 8 s.
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartWorkerAsync(new Dictionary<string, string?>
        {
            ["Outbox:BatchSize"] = "10",
            ["Outbox:Concurrency"] = "4",
            ["Outbox:Lease"] = "00:00:08",
        }));

        Assert.That(error!.Message, Does.Contain("Outbox:Lease").And.Contain("00:00:08"));
    }

    // The tests' own lease is 30 s. A 2 s timeout covers 64 rows (5 waves of 16, 10 s); an 8 s one covers only 2 waves
    // of rows (⌈32 ÷ 16⌉ + 1 = 3 waves, 24 s, where 64 would need 40 s): unset, the batch is the largest the lease covers.
    [TestCase("00:00:02", 64)]
    [TestCase("00:00:08", 32)]
    public async Task Unset_batch_size_is_the_default_or_the_largest_the_lease_covers(string requestTimeout, int expected)
    {
        await using var worker = await StartWorkerAsync(new Dictionary<string, string?> { ["Outbox:RequestTimeout"] = requestTimeout });

        var started = await WaitForLogAsync(worker, 4000);
        Assert.That(started.Message, Does.Contain($"batch {expected},"), "the dispatcher's own start line");
    }

    [Test]
    public async Task A_batch_size_that_is_set_is_held_to_the_lease_rule()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartWorkerAsync(new Dictionary<string, string?>
        {
            ["Outbox:RequestTimeout"] = "00:00:08",
            ["Outbox:BatchSize"] = "64",
        }));

        Assert.That(error!.Message, Does.Contain("Outbox:Lease").And.Contain("00:00:08 × 5"));
    }

    private static async Task<LogEntry> WaitForLogAsync(WorkerUnderTest worker, int eventId)
    {
        await WaitUntilAsync(() => Task.FromResult(worker.Log.Any(e => e.EventId == eventId)), $"the worker logs event {eventId}");
        return worker.Log.First(e => e.EventId == eventId);
    }
}
