using System.Collections.Concurrent;
using System.Diagnostics;
using Hermes.Domain;
using Hermes.Persistence.Outbox;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Hermes.Persistence.Submissions;

/// <summary>How a <see cref="SubmissionStore"/> batches, and where it reports.</summary>
/// <param name="MaxBatch">The most leads one transaction carries (at most <see cref="ModelInsert{TEntity}.MaxRows"/>).</param>
/// <param name="Writers">The most transactions written at the same time.</param>
public sealed record SubmissionStoreSettings(int MaxBatch, int Writers)
{
    /// <summary>Where each transaction's span (<c>hermes.leads.commit</c>) starts, when the host traces it.</summary>
    public ActivitySource? ActivitySource { get; init; }

    /// <summary>Called with the number of leads of each committed transaction and how long it took, from its first
    /// statement to the commit's answer (or, when that answer was lost, to the look-up that found them stored): the
    /// host's metrics.</summary>
    public Action<int, TimeSpan>? BatchCommitted { get; init; }

    /// <summary>Called for each submission a writer takes, with how long it waited in the queue for one (the host's metric).</summary>
    public Action<TimeSpan>? Waited { get; init; }
}

/// <summary>What is stored for a submission: its ids, its time and the hash of the body its Idempotency-Key came with.</summary>
public sealed record StoredSubmission(string LeadId, long BackupId, DateTimeOffset? CreatedAt, string? RequestHash);

/// <summary>
/// The outbox's one home on the submission path: takes validated leads (with their trace parents) and writes each
/// lead and its outbox row — the <see cref="OutboxMessage"/> carrying the frozen <see cref="WebhookPayload"/> —
/// in one transaction, one <see cref="HermesDbContext"/> per transaction, its wake-up deferred to
/// <see cref="OutboxNotifier"/> (the rule is stated there). Group commit for the submission path. Every accepted submission is queued here and its request waits for the
/// commit of the transaction that carries it. Up to <c>Intake:GroupCommit:Writers</c> writers — a request that found a
/// writer's place free and writes one transaction itself, or a writer loop that takes over the queue behind it — each take
/// whatever is queued (up to <c>Intake:GroupCommit:MaxBatch</c>, <see cref="SubmissionStoreSettings.MaxBatch"/>), give those leads their backup ids
/// (taken ahead from the leads' sequence, <see cref="BackupIdReservoir"/>) and this API's time, and send one multi-row INSERT of the leads,
/// another of their outbox rows and the COMMIT together: one transaction, one round trip, one WAL flush, for the lot. There is no timer: a
/// lone submission finds a writer's place free and is written at once, by its own request; under load, the submissions that arrive while a
/// transaction is being written form the next one. bench/RESULTS.md, "Group commit", has the measurements.
/// </summary>
/// <remarks>
/// <para>Failure, per submission:</para>
/// <list type="bullet">
/// <item>PostgreSQL refused a statement for a reason one row can cause — a data exception (SQLSTATE class 22), an
/// integrity violation (23: a unique violation on the Idempotency-Key, a check), a triggered action (09, 27), a
/// <c>WITH CHECK OPTION</c> (44), or a trigger's own refusal (PL/pgSQL, P0) — as an ERROR, so the connection is
/// fine: the transaction is rolled back and, when it carried more than one lead, each lead is written again in a
/// transaction of its own, so the bad row fails only its own request (which then sees the error exactly as if it had
/// been alone), and its neighbours are stored.</item>
/// <item>Anything else before the commit — the connection broke or timed out, the server is shutting down or starting
/// up (57P), out of connections or resources (53), a deadlock or serialization failure (40), any FATAL error: every
/// request of the batch gets the error (503 for an unreachable database); nothing of the batch was stored. They are
/// not written again one by one: against a database in trouble, that would multiply the connection attempts and the
/// wait by the size of the batch.</item>
/// <item>A backup id taken ahead is already in use (the leads' sequence was set back since: a restore, a reset): the
/// ids left are given up and the batch is written again once, with ids reserved then (event 3014).</item>
/// <item>The round trip that carries the COMMIT failed without an ERROR answer (the connection
/// died, or a FATAL error ended it; an ERROR there means nothing was committed, and is handled as above): its outcome is
/// unknown (the connection can die after PostgreSQL wrote the commit and before its answer arrived). Nothing is written again (that could store a lead twice); the batch's leads are
/// looked up by their lead ids, known before the insert, on another connection, and each request is answered with
/// what is there: its receipt when its lead is stored, else the commit's error (nothing stored). When even the
/// look-up fails, each request gets <see cref="CommitOutcomeUnknownException"/> (503: send it again with the same
/// Idempotency-Key).</item>
/// </list>
/// A request is never cancelled once queued: a lead on its way into the database is worth keeping.
/// </remarks>
public sealed partial class SubmissionStore(
    IServiceScopeFactory scopes,
    NpgsqlDataSource dataSource,
    OutboxNotifier notifier,
    SubmissionStoreSettings settings,
    TimeProvider time,
    ILogger<SubmissionStore> logger)
{
    private readonly ConcurrentQueue<Pending> _queue = new();
    private readonly BackupIdReservoir _backupIds = new(time);
    private readonly int _maxBatch = settings.MaxBatch;
    private readonly int _maxWriters = settings.Writers;
    private int _writers;

    /// <summary>The unique index that holds each Idempotency-Key once (<c>hermes_leads.idempotency_key</c>).</summary>
    public const string IdempotencyIndex = "idx_hermes_leads_idempotency_key";

    /// <summary>The leads' primary key, which holds each backup id once.</summary>
    public const string BackupIdIndex = "hermes_leads_pkey";

    /// <summary>Submissions queued and not yet taken by a writer.</summary>
    public int Queued => _queue.Count;

    /// <summary>
    /// The submission stored earlier under <paramref name="idempotencyKey"/>, or null: the look-up that comes before a
    /// new submission is queued, on a context of its own (the transactions have theirs).
    /// </summary>
    public async Task<StoredSubmission?> FindByIdempotencyKeyAsync(string idempotencyKey, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<HermesDbContext>();
        return await db.Leads.AsNoTracking()
            .Where(l => l.IdempotencyKey == idempotencyKey)
            .Select(static l => new StoredSubmission(l.LeadId, l.BackupId, l.CreatedAt, l.RequestHash))
            .FirstOrDefaultAsync(cancellationToken);
    }

    /// <summary>
    /// True when <paramref name="e"/>, from <see cref="StoreAsync"/>, says that a submission with the same
    /// Idempotency-Key committed first (the unique index made this one wait for it): look that one up.
    /// </summary>
    public static bool IsIdempotencyKeyTaken(PostgresException e) =>
        e is { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: IdempotencyIndex };

    /// <summary>
    /// Queues <paramref name="lead"/> (validated, with its lead id, idempotency key and hash set) and completes once
    /// it and its outbox row are committed, with <c>BackupId</c> and <c>CreatedAt</c> assigned; or fails with the error
    /// that kept it out of the database.
    /// </summary>
    public Task StoreAsync(Lead lead, string? traceparent)
    {
        var pending = new Pending(lead, traceparent);
        _queue.Enqueue(pending);
        return TryEnter() ? WriteAsLeaderAsync(pending) : pending.Committed.Task;
    }

    /// <summary>
    /// A request that finds a writer's place free takes it: it writes one transaction itself, on its own thread —
    /// its lead with whatever else is queued — then hands the place on to a writer loop when more has been queued
    /// meanwhile. A lone submission thus costs no hand-over between threads, neither to a writer nor back; only the
    /// submissions that queue behind a busy writer are handed over.
    /// </summary>
    private async Task WriteAsLeaderAsync(Pending own)
    {
        // The transaction is not this request's alone: its span is parented as a writer loop's is (see
        // StartCommitActivity), not to this request. (The change stays inside this method: the request's own is
        // back once it returns.)
        Activity.Current = null;
        try
        {
            var batch = TakeBatch(new List<Pending>(_maxBatch));
            if (batch.Count > 0)
            {
                await WriteAsync(batch);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _writers);

            // A submission queued while this transaction was written may have found every writer busy and started none.
            TryStartWriter();
        }

        // Written in this transaction, or taken by a writer loop before this request got to the queue.
        await own.Committed.Task;
    }

    private void TryStartWriter()
    {
        if (!TryEnter())
        {
            return;
        }

        // The loop outlives this request: it must not carry the request's trace context (or its AsyncLocals).
        using (ExecutionContext.SuppressFlow())
        {
            _ = Task.Run(WriteLoopAsync);
        }
    }

    /// <summary>Counts one more writer when there is work and room for one.</summary>
    private bool TryEnter()
    {
        while (!_queue.IsEmpty)
        {
            var writers = Volatile.Read(ref _writers);
            if (writers >= _maxWriters)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _writers, writers + 1, writers) == writers)
            {
                return true;
            }
        }

        return false;
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<Pending>(_maxBatch);
        while (true)
        {
            batch.Clear();
            if (TakeBatch(batch).Count == 0)
            {
                Interlocked.Decrement(ref _writers);

                // A submission queued after the last TryDequeue may have found every writer busy and started none.
                if (!TryEnter())
                {
                    return;
                }

                continue;
            }

            await WriteAsync(batch);
        }
    }

    /// <summary>Fills <paramref name="batch"/> (empty) with what is queued, up to the batch's limit, and reports each one's wait.</summary>
    private List<Pending> TakeBatch(List<Pending> batch)
    {
        while (batch.Count < _maxBatch && _queue.TryDequeue(out var pending))
        {
            batch.Add(pending);
        }

        // After the dequeue, not within it: a writer takes what is queued in one tight loop, so that another writer
        // finishing at the same moment does not split the queue between two transactions.
        if (settings.Waited is { } waited)
        {
            var taken = Stopwatch.GetTimestamp();
            foreach (var pending in batch)
            {
                waited(Stopwatch.GetElapsedTime(pending.QueuedAt, taken));
            }
        }

        return batch;
    }

    private async Task WriteAsync(List<Pending> batch, bool idsRenewed = false)
    {
        var committing = false;
        var started = Stopwatch.GetTimestamp();
        try
        {
            await WriteTransactionAsync(batch, sent => committing = sent);
        }
        catch (Exception e) when (committing)
        {
            await AnswerFromWhatIsStoredAsync(batch, e, started);
            return;
        }
        catch (PostgresException e) when (!idsRenewed && e is { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: BackupIdIndex })
        {
            // An id taken ahead is in use: the leads' sequence was set back (a restore, a reset) since it was reserved.
            // Nothing was stored; the same batch again, with ids reserved now.
            Log.BackupIdsRenewed(logger, batch.Count);
            _backupIds.Discard();
            await WriteAsync(batch, idsRenewed: true);
            return;
        }
        catch (PostgresException e) when (batch.Count > 1 && OneRowCanCause(e))
        {
            Log.BatchIsolated(logger, batch.Count, e.SqlState);
            foreach (var pending in batch)
            {
                // Alone, a refusal is that submission's own error, delivered as it is.
                await WriteAsync([pending]);
            }

            return;
        }
        catch (Exception e)
        {
            if (batch.Count > 1)
            {
                Log.BatchFailed(logger, batch.Count, e.GetType().Name, e is PostgresException p ? p.SqlState : "");
            }

            Fail(batch, e, committing);
            return;
        }

        Committed(batch, started);
    }

    /// <summary>
    /// An error one row of the batch can cause, reported as an ERROR (the connection lives on): see the class remarks.
    /// </summary>
    internal static bool OneRowCanCause(PostgresException e) =>
        e.InvariantSeverity == "ERROR" && e.SqlState.Length == 5 && e.SqlState[..2] is "09" or "22" or "23" or "27" or "44" or "P0";

    private static void Fail(List<Pending> batch, Exception e, bool committing)
    {
        foreach (var pending in batch)
        {
            pending.Committed.TrySetException(batch.Count == 1 ? e : new GroupCommitException(batch.Count, committing, e));
        }
    }

    /// <summary>
    /// The commit failed with its outcome unknown: looks the batch's leads up on another connection and answers each
    /// request with what is there.
    /// </summary>
    private async Task AnswerFromWhatIsStoredAsync(List<Pending> batch, Exception commitError, long started)
    {
        Dictionary<string, (long BackupId, DateTimeOffset CreatedAt)> stored;
        try
        {
            stored = await FindStoredAsync(batch);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            Log.CommitOutcomeUnknown(logger, batch.Count, commitError.GetType().Name, e.GetType().Name);
            foreach (var pending in batch)
            {
                pending.Committed.TrySetException(new CommitOutcomeUnknownException(batch.Count, commitError));
            }

            return;
        }

        Log.CommitOutcomeLookedUp(logger, batch.Count, commitError.GetType().Name, stored.Count);
        var committed = new List<Pending>(stored.Count);
        var missing = new List<Pending>(batch.Count - stored.Count);
        foreach (var pending in batch)
        {
            if (stored.TryGetValue(pending.Lead.LeadId, out var row))
            {
                (pending.Lead.BackupId, pending.Lead.CreatedAt) = row;
                committed.Add(pending);
            }
            else
            {
                missing.Add(pending);
            }
        }

        if (committed.Count > 0)
        {
            Committed(committed, started);
        }

        Fail(missing, commitError, committing: true);
    }

    /// <summary>The batch's leads that are in the database, by lead id, with the id and time it gave them.</summary>
    private async Task<Dictionary<string, (long BackupId, DateTimeOffset CreatedAt)>> FindStoredAsync(List<Pending> batch)
    {
        // The lead ids were made before the insert, so they name the rows whether or not the commit's answer arrived.
        await using var command = dataSource.CreateCommand("SELECT lead_id, id, created_at FROM hermes_leads WHERE lead_id = ANY($1)");
        command.Parameters.Add(new NpgsqlParameter { Value = batch.Select(static p => p.Lead.LeadId).ToArray() });
        await using var reader = await command.ExecuteReaderAsync(CancellationToken.None);
        var stored = new Dictionary<string, (long, DateTimeOffset)>(StringComparer.Ordinal);
        while (await reader.ReadAsync(CancellationToken.None))
        {
            stored[reader.GetString(0)] = (reader.GetInt64(1), reader.GetFieldValue<DateTimeOffset>(2));
        }

        return stored;
    }

    /// <summary>The leads of a transaction that <paramref name="started"/> (<see cref="Stopwatch.GetTimestamp"/>) are stored.</summary>
    private void Committed(List<Pending> batch, long started)
    {
        settings.BatchCommitted?.Invoke(batch.Count, Stopwatch.GetElapsedTime(started));
        notifier.Signal();
        foreach (var pending in batch)
        {
            pending.Committed.TrySetResult();
        }
    }

    /// <summary>
    /// The leads, with backup ids taken ahead from their sequence (<see cref="BackupIdReservoir"/>) and this API's time
    /// as <c>created_at</c> (to the microsecond PostgreSQL keeps), and their outbox rows carrying the frozen payloads,
    /// sent with the commit in one round trip (<see cref="SubmissionRows.WriteAndCommitAsync"/>);
    /// <paramref name="committing"/> is called with true just before it is sent, and with false when PostgreSQL answered
    /// it with an ERROR (nothing committed).
    /// </summary>
    private async Task WriteTransactionAsync(List<Pending> batch, Action<bool> committing)
    {
        var cancellationToken = CancellationToken.None;
        using var activity = StartCommitActivity(batch);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<HermesDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var ids = new long[batch.Count];
        await _backupIds.TakeAsync(ids, (NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)transaction.GetDbTransaction(), cancellationToken);
        var now = time.GetUtcNow();
        var createdAt = now.AddTicks(-(now.UtcTicks % TimeSpan.TicksPerMicrosecond));
        var leads = new Lead[batch.Count];
        var messages = new OutboxMessage[batch.Count];
        for (var i = 0; i < leads.Length; i++)
        {
            var lead = leads[i] = batch[i].Lead;
            lead.BackupId = ids[i];
            lead.CreatedAt = createdAt;
            messages[i] = new OutboxMessage
            {
                BackupId = lead.BackupId,
                Payload = WebhookPayload.For(lead).ToJson(),
                Traceparent = batch[i].Traceparent,
            };
        }

        await SubmissionRows.WriteAndCommitAsync(db, leads, messages, notifier, committing, cancellationToken);
    }

    /// <summary>
    /// The transaction's span: a child of the first submission's request (so a lone lead's trace holds its INSERTs,
    /// as before group commit), linked to the other submissions' requests.
    /// </summary>
    private Activity? StartCommitActivity(List<Pending> batch)
    {
        if (settings.ActivitySource is not { } source || !source.HasListeners())
        {
            return null;
        }

        var parent = default(ActivityContext);
        var links = new List<ActivityLink>(batch.Count - 1);
        foreach (var pending in batch)
        {
            if (pending.Traceparent is { } traceparent && ActivityContext.TryParse(traceparent, null, out var context))
            {
                if (parent == default)
                {
                    parent = context;
                }
                else
                {
                    links.Add(new ActivityLink(context));
                }
            }
        }

        var activity = source.StartActivity("hermes.leads.commit", ActivityKind.Internal, parent, links: links);
        activity?.SetTag("hermes.leads.count", batch.Count);
        return activity;
    }

    private sealed class Pending(Lead lead, string? traceparent)
    {
        public Lead Lead { get; } = lead;

        public string? Traceparent { get; } = traceparent;

        /// <summary>When it was queued (<see cref="Stopwatch.GetTimestamp"/>).</summary>
        public long QueuedAt { get; } = Stopwatch.GetTimestamp();

        // Completed by a writer; the request's continuation must not run on (and hold up) the writer loop.
        public TaskCompletionSource Committed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3010, Level = LogLevel.Information, Message = "A transaction of {Count} leads was refused (SQLSTATE {SqlState}); writing each of them alone")]
        public static partial void BatchIsolated(ILogger logger, int count, string sqlState);

        [LoggerMessage(EventId = 3014, Level = LogLevel.Warning, Message = "A transaction of {Count} leads met a backup id already in use (the leads' sequence was set back since the ids were reserved); written again with ids reserved now")]
        public static partial void BackupIdsRenewed(ILogger logger, int count);

        [LoggerMessage(EventId = 3011, Level = LogLevel.Warning, Message = "A transaction of {Count} leads failed before its commit ({Error} {SqlState}); each of its requests gets the error, none is written again")]
        public static partial void BatchFailed(ILogger logger, int count, string error, string sqlState);

        [LoggerMessage(EventId = 3012, Level = LogLevel.Warning, Message = "The commit of a transaction of {Count} leads failed ({Error}); looked up on another connection, {Stored} of them are stored and answered as such, the others as not stored")]
        public static partial void CommitOutcomeLookedUp(ILogger logger, int count, string error, int stored);

        [LoggerMessage(EventId = 3013, Level = LogLevel.Error, Message = "The commit of a transaction of {Count} leads failed ({Error}) and the look-up of its leads failed too ({LookupError}): whether they are stored is unknown; each request is told to send again with the same Idempotency-Key")]
        public static partial void CommitOutcomeUnknown(ILogger logger, int count, string error, string lookupError);
    }
}

/// <summary>The transaction a submission shared with others failed; <see cref="Exception.InnerException"/> says why.</summary>
public sealed class GroupCommitException(int count, bool committing, Exception inner)
    : Exception($"The transaction of {count} leads that carried this submission failed {(committing ? "in its commit, and this submission's lead is not in the database" : "before its commit")}.", inner);

/// <summary>
/// The connection was lost during the commit of the transaction that carried this submission, and its leads could
/// not be looked up afterwards: the submission may or may not be stored.
/// </summary>
public sealed class CommitOutcomeUnknownException(int count, Exception inner)
    : Exception($"The commit of the transaction of {count} leads that carried this submission failed and its outcome could not be looked up.", inner);
