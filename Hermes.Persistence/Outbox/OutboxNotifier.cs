using Microsoft.Extensions.Logging;
using Npgsql;

namespace Hermes.Persistence.Outbox;

/// <summary>
/// The wake-up rule, in one place. Workers LISTEN on <see cref="OutboxStore.NotifyChannel"/>; the insert trigger on
/// <c>hermes_outbox</c> (migration <c>CoalescedWakeUp</c>) NOTIFYs at the commit of every transaction that wrote outbox
/// rows, unless that transaction set <see cref="Setting"/> to <see cref="Deferred"/>. PostgreSQL serialises the
/// commits of every transaction that queued a notification (one database-wide lock held through the commit's WAL
/// flush: bench/RESULTS.md), so the API's transactions queue none: each sends <see cref="DeferInThisTransactionSql"/>
/// in the same round trip as its inserts, and after each commit the API calls <see cref="Signal"/>, which sends
/// <c>NOTIFY hermes_outbox</c> from a transaction of its own, at most one at a time and at most one per
/// <see cref="MinimumInterval"/>, so any number of commits during a send are covered by the one after it. Rows written
/// by any other connection (SQL, <c>worker seed</c>, a replay) still notify from the trigger.
/// </summary>
/// <remarks>
/// <para>The setting is transaction-local (<c>set_config(…, true)</c>), never a session or start-up setting: a pooler
/// refuses start-up options (PgBouncer's "unsupported startup parameter: options") or hands a session's settings to
/// its next client, while a transaction's own setting holds in any pooling mode and ends with the transaction.</para>
/// <para>The guarantee: every <see cref="Signal"/> is followed by a NOTIFY that starts after it, hence after the commit
/// that called it, so the woken worker's claim sees the row. A NOTIFY that fails (database away) is logged once per
/// failure streak; the workers' poll (<c>Outbox:PollInterval</c>) covers that time, as it covers a crash between a
/// commit and its signal.</para>
/// </remarks>
public sealed partial class OutboxNotifier(NpgsqlDataSource dataSource, ILogger<OutboxNotifier> logger, TimeProvider time, bool enabled = true)
{
    /// <summary>The setting the insert trigger reads (a custom setting; the API's transactions set it locally).</summary>
    public const string Setting = "hermes.outbox_wakeup";

    /// <summary>Its value in the API's transactions: the API sends the NOTIFY itself, through this class.</summary>
    public const string Deferred = "deferred";

    /// <summary>
    /// Says "this transaction's wake-up is sent by the API" for the rest of the current transaction only; sent in the
    /// same round trip as the inserts, before them.
    /// </summary>
    public const string DeferInThisTransactionSql = $"SELECT set_config('{Setting}', '{Deferred}', true)";

    /// <summary>
    /// The shortest time between the starts of two NOTIFYs: a burst of any size costs at most one NOTIFY per 2 ms
    /// (500/s), and a lone commit's NOTIFY goes at once. bench/RESULTS.md, "Commit to receipt with the coalesced NOTIFY".
    /// </summary>
    public static readonly TimeSpan MinimumInterval = TimeSpan.FromMilliseconds(2);

    // synchronous_commit off for this transaction only: a lost NOTIFY costs a poll interval, never a row, so it need
    // not wait for its WAL flush (PostgreSQL gives a notifying transaction an id, hence a commit record).
    private const string NotifySql = $"SELECT set_config('synchronous_commit', 'off', true), pg_notify('{OutboxStore.NotifyChannel}', '')";

    private const int Idle = 0;
    private const int Sending = 1;
    private const int SendingAndAsked = 2;

    private int _state;
    private long _sent;
    private bool _failing;

    /// <summary>NOTIFYs sent so far (for tests and the curious).</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>
    /// True when this process wakes the workers itself: its transactions that write outbox rows send
    /// <see cref="DeferInThisTransactionSql"/> and call <see cref="Signal"/> after their commit.
    /// </summary>
    public bool DefersTrigger => enabled;

    /// <summary>
    /// Puts this transaction's deferral (<see cref="DeferInThisTransactionSql"/>) into <paramref name="batch"/>, before
    /// the inserts that follow it, when this process sends the wake-up itself; true when it did (the batch then
    /// returns one more result, first). The caller calls <see cref="Signal"/> after the commit.
    /// </summary>
    public bool DeferIn(NpgsqlBatch batch)
    {
        if (!enabled)
        {
            return false;
        }

        batch.BatchCommands.Add(new NpgsqlBatchCommand(DeferInThisTransactionSql));
        return true;
    }

    /// <summary>Call after a commit that wrote outbox rows. Never blocks and never throws.</summary>
    public void Signal()
    {
        if (!enabled)
        {
            return;
        }

        while (true)
        {
            var state = Volatile.Read(ref _state);
            if (state == SendingAndAsked)
            {
                return;
            }

            if (Interlocked.CompareExchange(ref _state, state + 1, state) == state)
            {
                if (state == Idle)
                {
                    _ = Task.Run(SendLoopAsync);
                }

                return;
            }
        }
    }

    private async Task SendLoopAsync()
    {
        while (true)
        {
            var started = time.GetTimestamp();
            await SendAsync();
            if (Interlocked.CompareExchange(ref _state, Idle, Sending) == Sending)
            {
                return;
            }

            // Asked again while sending: one more NOTIFY covers every one of those commits.
            Volatile.Write(ref _state, Sending);
            var wait = MinimumInterval - time.GetElapsedTime(started);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, time);
            }
        }
    }

    private async Task SendAsync()
    {
        try
        {
            await using var command = dataSource.CreateCommand(NotifySql);
            await command.ExecuteNonQueryAsync(CancellationToken.None);
            Interlocked.Increment(ref _sent);
            if (_failing)
            {
                _failing = false;
                Log.Recovered(logger);
            }
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException or ObjectDisposedException)
        {
            if (!_failing)
            {
                _failing = true;
                Log.Failed(logger, e.GetType().Name, e is PostgresException p ? p.SqlState : "");
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3030, Level = LogLevel.Warning, Message = "Could not send the outbox wake-up NOTIFY ({Error} {SqlState}); the workers find new leads at their next poll until it works again")]
        public static partial void Failed(ILogger logger, string error, string sqlState);

        [LoggerMessage(EventId = 3031, Level = LogLevel.Information, Message = "The outbox wake-up NOTIFY works again")]
        public static partial void Recovered(ILogger logger);
    }
}
