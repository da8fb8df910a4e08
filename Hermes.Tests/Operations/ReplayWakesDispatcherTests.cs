using Hermes.Domain;
using Hermes.Tests.Worker;

namespace Hermes.Tests.Operations;

/// <summary>Replay against the real dispatcher: the NOTIFY of the replay, not the poll, brings the rows to n8n.</summary>
public sealed class ReplayWakesTheDispatcherTests : OperationsTest
{
    [Test]
    public async Task Replay_wakes_a_running_dispatcher_which_delivers_the_rows_at_once()
    {
        var failed = await AddLeadAsync(OutboxStatus.Failed);
        var other = await AddLeadAsync(OutboxStatus.Failed);
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var worker = await WorkerUnderTest.StartAsync(ConnectionString, receiver.Url, new Dictionary<string, string?> { ["Outbox:PollInterval"] = "00:05:00" });
        await WaitAsync(() => Task.FromResult(worker.State.Listening), "the dispatcher listens");
        await Task.Delay(200);
        Assert.That(receiver.Count, Is.Zero, "failed rows are not delivered by themselves");

        var started = DateTimeOffset.UtcNow;
        var run = await CliAsync("replay", "--yes", "--lead", failed.LeadId);
        var requests = await receiver.WaitForAsync(1, TimeSpan.FromSeconds(10));

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(requests.Single().WebhookId, Is.EqualTo(WebhookPayload.MessageIdFor(failed.LeadId) + "_r1"), "a replay is a new message for the receiver");
        Assert.That(requests.Single().ReceivedAt - started, Is.LessThan(TimeSpan.FromSeconds(10)), "far below the five-minute poll");
        await WaitAsync(async () => await OutboxStatusAsync(failed.OutboxId) == "delivered", "the replayed row is delivered");
        Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_leads WHERE id = $1", failed.BackupId), Is.EqualTo(LeadStatus.Forwarded.ToDatabase()));
        Assert.That(await ScalarAsync<int>("SELECT replay_count FROM hermes_outbox WHERE id = $1", failed.OutboxId), Is.EqualTo(1));
        Assert.That(await OutboxStatusAsync(other.OutboxId), Is.EqualTo("failed"));
        Assert.That(receiver.Count, Is.EqualTo(1));
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting until {what}.");
            }

            await Task.Delay(20);
        }
    }
}
