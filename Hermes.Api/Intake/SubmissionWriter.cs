using System.Collections.Concurrent;
using System.Diagnostics;
using Hermes.Api.Telemetry;
using Hermes.Domain;
using Hermes.Persistence;
using Hermes.Persistence.Outbox;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Hermes.Api.Intake;

/// <summary>
/// Group commit for the submission path. Every accepted submission is queued here and its request waits for the
/// commit of the transaction that carries it. Up to <c>Intake:GroupCommit:Writers</c> writer loops each take
/// whatever is queued (up to <c>Intake:GroupCommit:MaxBatch</c>), write those leads with one multi-row INSERT,
/// their outbox rows with another, and commit: one transaction, one WAL flush, for the lot. There is no timer: a
/// lone submission finds an idle writer and is written at once; under load, the submissions that arrive while a
/// transaction is being written form the next one. bench/RESULTS.md, "Group commit", has the measurements.
/// </summary>
/// <remarks>
/// <para>Failure, per submission:</para>
/// <list type="bullet">
/// <item>PostgreSQL refused a statement (a unique violation on the Idempotency-Key, a row it will not take): the
/// transaction is rolled back and, when it carried more than one lead, each lead is written again in a transaction
/// of its own, so a bad row fails only its own request (which then sees the error exactly as if it had been
/// alone), and its neighbours are stored.</item>
/// <item>Anything else before the commit (the connection broke or timed out): every request of the batch gets
/// the error (503 for an unreachable database); nothing of the batch was stored. They are not written again one by
/// one: against a database that does not answer, that would multiply the wait.</item>
/// <item>The commit itself failed: its outcome is unknown, exactly as for a lone lead, so nothing is written
/// again (that could store a lead twice); every request gets the error.</item>
/// </list>
/// A request is never cancelled once queued: a lead on its way into the database is worth keeping.
/// </remarks>
internal sealed partial class SubmissionWriter(
    IServiceScopeFactory scopes,
    OutboxNotifier notifier,
    IOptions<IntakeOptions> options,
    ApiTelemetry telemetry,
    ILogger<SubmissionWriter> logger)
{
    private readonly ConcurrentQueue<Pending> _queue = new();
    private readonly int _maxBatch = options.Value.GroupCommit.MaxBatch;
    private readonly int _maxWriters = options.Value.GroupCommit.Writers;
    private int _writers;

    /// <summary>Submissions queued and not yet taken by a writer.</summary>
    public int Queued => _queue.Count;

    /// <summary>
    /// Queues <paramref name="lead"/> (validated, with its lead id, idempotency key and hash set) and completes once
    /// it and its outbox row are committed, with <c>Id</c> and <c>CreatedAt</c> assigned; or fails with the error
    /// that kept it out of the database.
    /// </summary>
    public Task StoreAsync(Lead lead, string? traceparent)
    {
        var pending = new Pending(lead, traceparent);
        _queue.Enqueue(pending);
        TryStartWriter();
        return pending.Committed.Task;
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
            while (batch.Count < _maxBatch && _queue.TryDequeue(out var pending))
            {
                batch.Add(pending);
            }

            if (batch.Count == 0)
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

    private async Task WriteAsync(List<Pending> batch)
    {
        var committing = false;
        try
        {
            await WriteTransactionAsync(batch, () => committing = true);
        }
        catch (PostgresException e) when (!committing && batch.Count > 1)
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
            foreach (var pending in batch)
            {
                pending.Committed.TrySetException(batch.Count == 1 ? e : new GroupCommitException(batch.Count, committing, e));
            }

            return;
        }

        Committed(batch);
    }

    private void Committed(List<Pending> batch)
    {
        notifier.Signal();
        telemetry.CommitBatch.Record(batch.Count);
        foreach (var pending in batch)
        {
            pending.Committed.TrySetResult();
        }
    }

    /// <summary>
    /// The leads, then (with their database-assigned ids and times) the outbox rows carrying the frozen payloads, then
    /// the commit; <paramref name="committing"/> is called just before the commit is sent.
    /// </summary>
    private async Task WriteTransactionAsync(List<Pending> batch, Action committing)
    {
        var cancellationToken = CancellationToken.None;
        using var activity = StartCommitActivity(batch);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<HermesDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var leads = new Lead[batch.Count];
        for (var i = 0; i < leads.Length; i++)
        {
            leads[i] = batch[i].Lead;
        }

        await SubmissionRows.InsertLeadsAsync(db, leads, cancellationToken, wakeUp: notifier);
        var messages = new OutboxMessage[batch.Count];
        for (var i = 0; i < messages.Length; i++)
        {
            messages[i] = new OutboxMessage
            {
                LeadId = leads[i].Id,
                Payload = WebhookPayload.For(leads[i]).ToJson(),
                Traceparent = batch[i].Traceparent,
            };
        }

        await SubmissionRows.InsertOutboxAsync(db, messages, cancellationToken);
        committing();
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// The transaction's span: a child of the first submission's request (so a lone lead's trace holds its INSERTs,
    /// as before group commit), linked to the other submissions' requests.
    /// </summary>
    private static Activity? StartCommitActivity(List<Pending> batch)
    {
        if (!ApiTelemetry.ActivitySource.HasListeners())
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

        var activity = ApiTelemetry.ActivitySource.StartActivity("hermes.leads.commit", ActivityKind.Internal, parent, links: links);
        activity?.SetTag("hermes.leads.count", batch.Count);
        return activity;
    }

    private sealed class Pending(Lead lead, string? traceparent)
    {
        public Lead Lead { get; } = lead;

        public string? Traceparent { get; } = traceparent;

        // Completed by a writer; the request's continuation must not run on (and hold up) the writer loop.
        public TaskCompletionSource Committed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3010, Level = LogLevel.Information, Message = "A transaction of {Count} leads was refused (SQLSTATE {SqlState}); writing each of them alone")]
        public static partial void BatchIsolated(ILogger logger, int count, string sqlState);
    }
}

/// <summary>The transaction a submission shared with others failed; <see cref="Exception.InnerException"/> says why.</summary>
internal sealed class GroupCommitException(int count, bool committing, Exception inner)
    : Exception($"The transaction of {count} leads that carried this submission failed {(committing ? "while committing (its outcome is unknown)" : "before its commit")}.", inner);
