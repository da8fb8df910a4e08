using System.Collections.Concurrent;
using Hermes.Persistence.Outbox;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Hermes.Tests.Api;

/// <summary>
/// The API's submissions wake the workers by a coalesced NOTIFY of its own (<see cref="OutboxNotifier"/>), not by the
/// insert trigger, whose per-commit NOTIFY serialises commits; every other writer still notifies from the trigger.
/// A test LISTEN connection counts what PostgreSQL actually delivered.
/// </summary>
public sealed class WakeUpNotifyTests : ApiTest
{
    [Test]
    public async Task The_api_transactions_defer_the_trigger_and_one_submission_brings_one_notify_after_its_commit()
    {
        await using var listener = await NotifyListener.StartAsync(ConnectionString);
        var dataSource = Factory.Services.GetRequiredService<NpgsqlDataSource>();
        await using (var command = dataSource.CreateCommand($"SELECT coalesce(current_setting('{OutboxNotifier.Setting}', true), '')"))
        {
            Assert.That(await command.ExecuteScalarAsync(), Is.Not.EqualTo(OutboxNotifier.Deferred),
                "the API's connections carry no session setting (a pooler would hand it to other clients, or refuse it)");
        }

        var notifier = Factory.Services.GetRequiredService<OutboxNotifier>();
        var sentBefore = notifier.Sent;
        using var response = await PostJsonAsync("/api/leads", ValidBody());
        Assert.That((int)response.StatusCode, Is.EqualTo(201));

        await WaitForNotifiesAsync(listener, 1);
        await Task.Delay(300);
        Assert.Multiple(() =>
        {
            Assert.That(listener.Received, Has.Count.EqualTo(1), "one NOTIFY, from the notifier, none from the trigger");
            Assert.That(notifier.Sent - sentBefore, Is.EqualTo(1));
        });
    }

    [Test]
    public async Task A_burst_of_signals_costs_at_most_a_few_notifies_and_a_later_signal_gets_its_own()
    {
        await using var listener = await NotifyListener.StartAsync(ConnectionString);
        var notifier = Factory.Services.GetRequiredService<OutboxNotifier>();
        var sentBefore = notifier.Sent;

        for (var i = 0; i < 1000; i++)
        {
            notifier.Signal();
        }

        await WaitForNotifiesAsync(listener, 1);
        await Task.Delay(300);
        var afterBurst = listener.Received.Count;
        Assert.That(afterBurst, Is.InRange(1, 3), "1,000 signals in a burst fold into the NOTIFY under way and at most a couple after it");
        Assert.That(notifier.Sent - sentBefore, Is.EqualTo(afterBurst), "every NOTIFY sent arrived");

        notifier.Signal();
        await WaitForNotifiesAsync(listener, afterBurst + 1);
        await Task.Delay(100);
        Assert.That(listener.Received, Has.Count.EqualTo(afterBurst + 1), "a signal after the burst is not lost");
    }

    [Test]
    public async Task Concurrent_submissions_are_all_stored_with_fewer_notifies_than_commits()
    {
        await using var listener = await NotifyListener.StartAsync(ConnectionString);
        var notifier = Factory.Services.GetRequiredService<OutboxNotifier>();
        var sentBefore = notifier.Sent;

        var answers = await Task.WhenAll(Enumerable.Range(0, 200).Select(async _ =>
        {
            using var response = await PostJsonAsync("/api/leads", ValidBody());
            return (int)response.StatusCode;
        }));

        await Task.Delay(300);
        Assert.Multiple(async () =>
        {
            Assert.That(answers, Is.All.EqualTo(201));
            Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'pending'"), Is.EqualTo(200));
            Assert.That(listener.Received, Has.Count.EqualTo(notifier.Sent - sentBefore), "every NOTIFY came from the notifier");
            Assert.That(listener.Received, Has.Count.InRange(1, 199), "commits that overlapped shared a NOTIFY");
        });
    }

    [Test]
    public async Task Rows_written_by_any_other_connection_still_notify_from_the_trigger()
    {
        await using var listener = await NotifyListener.StartAsync(ConnectionString);
        await ExecuteAsync("""
            WITH l AS (
                INSERT INTO hermes_leads (lead_id, first_name, last_name, email, country, phone_number, problem_description)
                VALUES ('lead_trigger_test', 'Ada', 'Lovelace', 'ada@example.com', 'UK', '+441234567890', 'A test lead')
                RETURNING id)
            INSERT INTO hermes_outbox (lead_id, payload) SELECT id, '{}'::jsonb FROM l
            """);

        await WaitForNotifiesAsync(listener, 1);
        Assert.That(listener.Received, Has.Count.EqualTo(1));

        // The same insert in a transaction that says it wakes the workers itself: the trigger stays quiet; and the
        // saying ends with the transaction, so the next insert on the same connection notifies again.
        await using var connection = await DataSource.OpenConnectionAsync();
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await using var batch = new NpgsqlBatch(connection, transaction)
            {
                BatchCommands = { new(OutboxNotifier.DeferInThisTransactionSql), new(InsertOutboxSql) },
            };
            await batch.ExecuteNonQueryAsync();
            await transaction.CommitAsync();
        }

        await Task.Delay(500); // a NOTIFY that should not come has had time to arrive
        Assert.That(listener.Received, Has.Count.EqualTo(1), "no NOTIFY from a deferring transaction's insert");

        await using (var insert = new NpgsqlCommand(InsertOutboxSql, connection))
        {
            Assert.That(await insert.ExecuteNonQueryAsync(), Is.EqualTo(1));
        }

        await WaitForNotifiesAsync(listener, 2);
        Assert.That(listener.Received, Has.Count.EqualTo(2), "the next transaction on that connection notifies from the trigger");
    }

    private const string InsertOutboxSql = "INSERT INTO hermes_outbox (lead_id, payload) SELECT id, '{}'::jsonb FROM hermes_leads WHERE lead_id = 'lead_trigger_test'";

    private static Task WaitForNotifiesAsync(NotifyListener listener, int count) =>
        WaitUntilAsync(() => Task.FromResult(listener.Received.Count >= count), $"{count} NOTIFY arrived", TimeSpan.FromSeconds(10));
}
