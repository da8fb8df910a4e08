using System.Threading.Channels;
using Hermes.Domain;
using Hermes.Persistence.Operations;
using Hermes.Persistence.Outbox;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Hermes.Outbox.Worker.Delivery;

/// <summary>What a finished delivery hands to the completer, and when its claim's lease ends (this worker's clock).</summary>
public readonly record struct Completion(AttemptOutcome? Outcome, ReleasedClaim? Released, DateTimeOffset LeaseEndsAt)
{
    public static Completion Of(Decision decision, DateTimeOffset leaseEndsAt) => new(decision.Outcome, decision.Release, leaseEndsAt);
}

/// <summary>
/// Owns writing outcomes back (the completer of River's design): deliveries hand their outcome to a bounded queue, and
/// one loop writes whatever has queued up in one round trip. It never dies of an error:
/// <list type="bullet">
/// <item>a transient database error retries the same batch with backoff;</item>
/// <item>any other error (a value PostgreSQL refuses, a text no encoder can write) isolates the rows: they are written
/// one by one, and a row that fails on its own is written again without what came from n8n (excerpt, answer, contact
/// id), its error saying why — a delivery stays a delivery, since a retry would send a lead n8n already has;</item>
/// <item>the queue is bounded: when it is full, finished deliveries wait with their slot, so the dispatcher stops
/// claiming;</item>
/// <item>when an outcome cannot be written before its claim's lease ends (less <see cref="OutboxOptions.LeaseMargin"/>)
/// the worker is done for: it says so on <c>/health/live</c> and <c>/health/ready</c>, logs a critical line and stops
/// with a non-zero exit code, so that an orchestrator restarts it — rather than let the row be claimed and sent again
/// while it lives on. Every write is bounded by that time: the server abandons a lock wait or a statement that would
/// outlast it (<c>lock_timeout</c>, <c>statement_timeout</c>, set for the write's own transaction), and the write's
/// cancellation fires shortly after, still before the lease ends, in case the server cannot say so. An outcome that reaches the writer
/// with its time already spent is not written (another worker may be sending its row) and stops the worker too.</item>
/// </list>
/// </summary>
public sealed class OutcomeCompleter
{
    /// <summary>At most this many outcomes per round trip.</summary>
    public const int MaxWriteBatch = 500;

    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);

    private readonly OutboxStore _store;
    private readonly AttemptPartitions _partitions;
    private readonly OutboxWakeUp _wakeUp;
    private readonly DeliveryState _state;
    private readonly TimeProvider _time;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<OutcomeCompleter> _logger;
    private readonly string _workerId;
    private readonly TimeSpan _margin;
    private readonly Channel<Completion> _queue;

    public OutcomeCompleter(OutboxStore store, AttemptPartitions partitions, OutboxWakeUp wakeUp, DeliveryState state, IOptions<OutboxOptions> options, TimeProvider time,
        IHostApplicationLifetime lifetime, ILogger<OutcomeCompleter> logger)
    {
        _store = store;
        _partitions = partitions;
        _wakeUp = wakeUp;
        _state = state;
        _time = time;
        _lifetime = lifetime;
        _logger = logger;
        var o = options.Value;
        _workerId = o.WorkerId;
        // Time for the process to stop before another worker may claim the row.
        _margin = o.LeaseMargin;
        Capacity = (2 * o.Concurrency) + o.BatchSize;
        _queue = Channel.CreateBounded<Completion>(new BoundedChannelOptions(Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    }

    /// <summary>How many outcomes may wait to be written; beyond that, deliveries wait.</summary>
    public int Capacity { get; }

    /// <summary>Outcomes waiting to be written now.</summary>
    public int Queued => _queue.Reader.Count;

    /// <summary>Queues an outcome; waits while the queue is full.</summary>
    public ValueTask AddAsync(Completion completion) => _queue.Writer.WriteAsync(completion, CancellationToken.None);

    /// <summary>No more outcomes will come: <see cref="RunAsync"/> ends once the queue is written.</summary>
    public void Complete() => _queue.Writer.TryComplete();

    /// <summary>Writes outcomes as they arrive until <see cref="Complete"/> was called and the queue is empty. Never throws.</summary>
    public async Task RunAsync()
    {
        var reader = _queue.Reader;
        var batch = new List<Completion>();
        while (await reader.WaitToReadAsync(CancellationToken.None))
        {
            while (batch.Count < MaxWriteBatch && reader.TryRead(out var item))
            {
                batch.Add(item);
            }

            try
            {
                await WriteAsync(batch);
            }
            catch (Exception e)
            {
                // A defect in the writer itself: the batch's rows come back at their lease end; the loop lives on.
                WorkerLog.WriterCrashed(_logger, e, batch.Count);
            }

            batch.Clear();
        }
    }

    private async Task WriteAsync(List<Completion> batch)
    {
        if (_state.FatalError is not null)
        {
            // Stopping already: nothing more is trusted to land in time.
            WorkerLog.WriteGaveUp(_logger, batch.Count);
            return;
        }

        // Each outcome against its own lease: one whose time is spent is not written (its row may be claimed and sent
        // by another worker any moment now), and stops this worker once the others are written.
        var now = _time.GetUtcNow();
        var overdue = batch.Count(c => c.Outcome is not null && c.LeaseEndsAt - _margin <= now);
        if (overdue > 0)
        {
            batch = batch.Where(c => c.Outcome is null || c.LeaseEndsAt - _margin > now).ToList();
        }

        var outcomes = batch.Where(static c => c.Outcome is not null).Select(static c => c.Outcome!).ToList();
        var released = batch.Where(static c => c.Released is not null).Select(static c => c.Released!).ToList();
        if (batch.Count > 0 && await TryWriteAsync(outcomes, released, batch.Min(static c => c.LeaseEndsAt) - _margin) is { } refused)
        {
            WorkerLog.OutcomesIsolated(_logger, batch.Count, DatabaseErrors.Describe(refused));
            foreach (var item in batch)
            {
                await WriteAloneAsync(item, item.LeaseEndsAt - _margin);
            }
        }

        if (overdue > 0)
        {
            Fatal($"{overdue} delivery outcome(s) reached the writer less than {_margin} before their lease ends, too late to be written safely");
        }

        if (released.Count > 0)
        {
            WorkerLog.Released(_logger, released.Count, "circuit open");
        }

        if (outcomes.Exists(static o => o.Outcome == DeliveryOutcomes.Retry))
        {
            // The dispatcher may be idle, waiting for a poll that comes later than this retry is due: let it look again.
            _wakeUp.Signal();
        }
    }

    /// <summary>One row of a batch that was refused: as it is, or else without what came from n8n.</summary>
    private async Task WriteAloneAsync(Completion item, DateTimeOffset deadline)
    {
        IReadOnlyList<AttemptOutcome> outcomes = item.Outcome is { } o ? [o] : [];
        IReadOnlyList<ReleasedClaim> released = item.Released is { } r ? [r] : [];
        if (await TryWriteAsync(outcomes, released, deadline) is not { } refused || item.Outcome is not { } outcome)
        {
            return;
        }

        var reason = "The outcome could not be stored as received (" + DatabaseErrors.Describe(refused) + ")";
        var stripped = outcome with
        {
            Error = outcome.Outcome == DeliveryOutcomes.Delivered ? reason + "; n8n's answer is not kept." : $"{reason}; the attempt failed with HTTP {outcome.StatusCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"}.",
            ResponseExcerpt = null,
            ResponseData = null,
            BrevoContactId = null,
        };
        WorkerLog.OutcomeStripped(_logger, outcome.OutboxId, outcome.Attempt, DatabaseErrors.Describe(refused));
        if (await TryWriteAsync([stripped], [], deadline) is { } again)
        {
            Fatal($"the outcome of outbox row {outcome.OutboxId} cannot be written at all ({DatabaseErrors.Describe(again)})");
        }
    }

    /// <summary>Writes, retrying transient errors until <paramref name="deadline"/>. Null when written (or given up as fatal); else the error that is not transient.</summary>
    private async Task<Exception?> TryWriteAsync(IReadOnlyList<AttemptOutcome> outcomes, IReadOnlyList<ReleasedClaim> released, DateTimeOffset deadline)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        var healed = false;
        for (var attempt = 1; ; attempt++)
        {
            if (_state.FatalError is not null)
            {
                return null;
            }

            var left = deadline - _time.GetUtcNow();
            if (left <= TimeSpan.Zero)
            {
                Fatal($"{outcomes.Count + released.Count} delivery outcomes could not be written before their lease ends");
                return null;
            }

            // The server's bound fires first and leaves the connection clean; the cancellation, half a margin later
            // and still before the lease ends, is for a server that cannot say so (unreachable, or a hung connection).
            using var bound = new CancellationTokenSource(left + (_margin / 2), _time);
            try
            {
                await _store.CompleteAsync(outcomes, released, _workerId, left, bound.Token);
                _state.WriterSucceeded();
                return null;
            }
            catch (Exception e) when (bound.IsCancellationRequested || IsOverrun(e))
            {
                // The bound was reached: waiting on a lock (an erase, an operator's transaction) or on the database.
                // Nothing of this round trip was written, and no time is left to write it.
                _state.WriterFailed();
                Fatal($"{outcomes.Count + released.Count} delivery outcomes could not be written before their lease ends ({DatabaseErrors.Describe(e)})");
                return null;
            }
            catch (Exception e) when (AttemptPartitions.IsMissingPartition(e) && !healed)
            {
                // No partition for an attempt's day: maintenance never ran ahead (or was off). Refused loudly, not lost:
                // create the days and write again, once; a second refusal is isolated like any other.
                healed = true;
                var days = outcomes.Select(static o => o.StartedAt.UtcDateTime.Date).Distinct().Count();
                WorkerLog.PartitionMissing(_logger, days);
                try
                {
                    await _partitions.EnsureDaysAsync([.. outcomes.Select(static o => o.StartedAt)], bound.Token);
                }
                catch (Exception create) when (!bound.IsCancellationRequested)
                {
                    WorkerLog.PartitionNotCreated(_logger, DatabaseErrors.Describe(create));
                    return create;
                }
            }
            catch (Exception e) when (!DatabaseErrors.IsTransient(e))
            {
                return e;
            }
            catch (Exception e)
            {
                _state.WriterFailed();
                WorkerLog.WriteFailed(_logger, e, outcomes.Count + released.Count, attempt);
                // The next try finds the deadline passed, if it is by then.
                var remaining = deadline - _time.GetUtcNow();
                await Task.Delay(delay < remaining ? delay : remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, _time, CancellationToken.None);
                delay = delay * 2 < MaxBackoff ? delay * 2 : MaxBackoff;
            }
        }
    }

    /// <summary>The server gave up on the write's own bound: a lock wait (55P03) or the statement's time (57014).</summary>
    private static bool IsOverrun(Exception e) =>
        (e as PostgresException ?? e.InnerException as PostgresException)?.SqlState is PostgresErrorCodes.LockNotAvailable or PostgresErrorCodes.QueryCanceled;

    private void Fatal(string reason)
    {
        if (_state.Fail(reason))
        {
            WorkerLog.WriterFatal(_logger, reason);
            _lifetime.StopApplication();
        }
    }
}
