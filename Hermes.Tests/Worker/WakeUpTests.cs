using Hermes.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Hermes.Tests.Worker;

/// <summary>LISTEN/NOTIFY wake-up, its reconnection, and polling where LISTEN cannot work.</summary>
public sealed class WakeUpTests : WorkerTest
{
    private static readonly Dictionary<string, string?> SlowPoll = new() { ["Outbox:PollInterval"] = "00:01:00" };

    [Test]
    public async Task Notify_on_commit_delivers_without_waiting_for_the_poll_interval()
    {
        await using var worker = await StartWorkerAsync(SlowPoll);
        await WaitUntilAsync(() => Task.FromResult(worker.State.Listening), "the listener is connected");
        await Task.Delay(100);

        var started = DateTimeOffset.UtcNow;
        var (_, message) = await InsertLeadAsync();

        await WaitForOutboxStatusAsync(message.Id, "delivered", TimeSpan.FromSeconds(5));
        Assert.That(Receiver.Requests.Single().ReceivedAt - started, Is.LessThan(TimeSpan.FromSeconds(5)), "far below the one-minute poll");
    }

    [Test]
    public async Task Listener_reconnects_by_itself_after_its_connection_is_dropped()
    {
        // The worker's clock stands still unless moved: the reconnection waits its backoff on it, and no poll can
        // find the row that proves the listener is back.
        var clock = new TestClock();
        await using var worker = await WorkerUnderTest.StartAsync(ConnectionString, Receiver.Url, SlowPoll, services: s => s.AddSingleton<TimeProvider>(clock));
        await WaitUntilAsync(() => Task.FromResult(worker.State.Listening), "the listener is connected");
        var database = new NpgsqlConnectionStringBuilder(ConnectionString).Database!;

        await using (var admin = new NpgsqlConnection(TestPostgres.AdminConnectionString))
        {
            await admin.OpenAsync();
            await using var kill = new NpgsqlCommand("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE '%-listener'", admin)
            {
                Parameters = { new() { Value = database } },
            };
            Assert.That(await kill.ExecuteScalarAsync(), Is.EqualTo(1L));
        }

        await WaitUntilAsync(() => Task.FromResult(worker.Log.Any(static e => e.EventId == 4021)), "the listener notices and waits its backoff");
        Assert.That(worker.State.Listening, Is.False);
        // Moved on a little at every look, as the backoff's timer may be created just after the log line.
        await WaitUntilAsync(() =>
        {
            clock.Advance(TimeSpan.FromMilliseconds(100));
            return Task.FromResult(worker.State.Listening);
        }, "the listener is back after its one-second backoff");
        Assert.That(clock.GetUtcNow() - clock.Start, Is.LessThan(TimeSpan.FromMinutes(1)), "well within the poll interval: no poll found the row below");
        var (_, message) = await InsertLeadAsync();

        await WaitForOutboxStatusAsync(message.Id, "delivered", TimeSpan.FromSeconds(5));
        Assert.That(worker.Log.Count(static e => e.EventId == 4021), Is.EqualTo(1), "the drop is logged");
    }

    [Test]
    public async Task Behind_a_transaction_pooler_without_a_direct_url_the_worker_polls_and_says_so_once()
    {
        var url = TestPostgres.UrlFor(ConnectionString) + "?pgbouncer=true";
        await using var worker = await StartWorkerAsync(new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = url,
            ["ConnectionStrings:Hermes"] = "",
            ["Outbox:PollInterval"] = "00:00:00.100",
        });
        var rows = await InsertLeadsAsync(2);

        await WaitForAllDeliveredAsync(2, TimeSpan.FromSeconds(5));
        Assert.That(worker.State.Listening, Is.False);
        Assert.That(worker.Log.Count(static e => e.EventId == 4022), Is.EqualTo(1));
        Assert.That(rows, Has.Count.EqualTo(2));
    }

    [Test]
    public async Task Direct_url_gives_the_listener_its_connection_behind_a_transaction_pooler()
    {
        var url = TestPostgres.UrlFor(ConnectionString);
        await using var worker = await StartWorkerAsync(new Dictionary<string, string?>
        {
            ["DATABASE_URL"] = url + "?pgbouncer=true",
            ["DATABASE_DIRECT_URL"] = url,
            ["ConnectionStrings:Hermes"] = "",
            ["Outbox:PollInterval"] = "00:01:00",
        });
        await WaitUntilAsync(() => Task.FromResult(worker.State.Listening), "the listener is connected");
        await Task.Delay(100);

        var (_, message) = await InsertLeadAsync();

        await WaitForOutboxStatusAsync(message.Id, "delivered", TimeSpan.FromSeconds(5));
    }
}
