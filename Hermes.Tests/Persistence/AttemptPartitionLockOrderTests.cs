using Hermes.Tests.Infrastructure;
using Npgsql;

namespace Hermes.Tests.Persistence;

/// <summary>
/// Creating a day of the attempt log locks the log's parent and, for the day's foreign key, <c>hermes_outbox</c>. The
/// worker's outcome write takes the same two in the other order (it updates the outbox, then logs the attempt). At the
/// turn of a UTC day, when the worker's maintenance creates the day ahead while outcomes are being written, the two
/// deadlocked and one was aborted (SQLSTATE 40P01; seen in a test run that crossed midnight). The function now takes
/// the outbox's lock first, so a write between the two locks finishes and the creation waits for it.
/// </summary>
public sealed class AttemptPartitionLockOrderTests : DatabaseTest
{
    [Test]
    public async Task Creating_a_day_while_an_outcome_write_holds_the_outbox_waits_for_it_instead_of_deadlocking()
    {
        await using var writer = await DataSource.OpenConnectionAsync();
        await using var transaction = await writer.BeginTransactionAsync();
        // The outcome write's first lock: the outbox (an UPDATE locks the table whatever rows it finds).
        await using (var update = new NpgsqlCommand("UPDATE hermes_outbox SET attempts = attempts WHERE id = -1", writer, transaction))
        {
            await update.ExecuteNonQueryAsync();
        }

        var day = DateTime.UtcNow.Date.AddDays(20);
        var creating = Task.Run(async () =>
        {
            await using var command = DataSource.CreateCommand("SELECT hermes_attempt_partitions_ensure($1, 1)");
            command.Parameters.Add(new NpgsqlParameter<DateTime>() { TypedValue = day, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Date });
            return Convert.ToInt32(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
        });
        await WaitUntilAsync(async () => await ScalarAsync<long>("SELECT count(*) FROM pg_locks WHERE NOT granted") > 0, "the creation waits for a lock");

        // The outcome write's second lock: the attempt log. Before the fix the creation held it and waited for the
        // outbox: a deadlock, one of the two aborted after deadlock_timeout.
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO hermes_delivery_attempts (outbox_id, lead_id, attempt_number, started_at, duration_ms, outcome)
            SELECT 1, 1, 1, now(), 1, 'retry' WHERE false
            """, writer, transaction))
        {
            await insert.ExecuteNonQueryAsync();
        }

        await transaction.CommitAsync();
        Assert.That(await creating, Is.EqualTo(1), "the day was created once the write had committed");
        Assert.That(await ScalarAsync<long>($"SELECT count(*) FROM pg_class WHERE relname = 'hermes_delivery_attempts_p{day:yyyyMMdd}'"), Is.EqualTo(1));
    }
}
