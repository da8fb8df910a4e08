using Hermes.Domain;
using Npgsql;
using NpgsqlTypes;

namespace Hermes.Persistence.Operations;

/// <summary>What a purge deleted; <paramref name="AttemptLogs"/> counts the attempt logs of the days dropped whole too.</summary>
public sealed record PurgeResult(TimeSpan OlderThan, long OutboxRows, long AttemptLogs, int PartitionsDropped = 0);

/// <summary>
/// Retention: first drops the attempt log's days (partitions) that ended before the retention period whole
/// (<see cref="AttemptPartitions.DropOlderThanAsync"/>: one DROP instead of a DELETE per row and the vacuum after it),
/// then deletes delivered outbox rows (with their attempt logs) delivered longer ago than the retention
/// period, and the attempt logs older than it that are left: those of the boundary day, and of a day kept because it
/// holds a failed row's attempts. Attempt logs of <c>failed</c> rows are kept whatever their age: they are
/// what an operator reads before a replay. Leads are never deleted: they are the backup. Works in batches of
/// short transactions so it never holds many locks for long, and several workers purging at once only skip
/// each other's rows.
/// </summary>
public sealed class OutboxPurge(NpgsqlDataSource dataSource)
{
    public static readonly TimeSpan DefaultRetention = TimeSpan.FromDays(7);
    public const int BatchSize = 5000;

    private const string DeliveredSql = $"""
        WITH doomed AS (
            SELECT id FROM hermes_outbox
            WHERE status = '{OutboxStatusNames.Delivered}' AND delivered_at < now() - @retention
            ORDER BY delivered_at
            LIMIT @batch
            FOR UPDATE SKIP LOCKED
        ), attempts AS (
            DELETE FROM hermes_delivery_attempts a USING doomed d WHERE a.outbox_id = d.id RETURNING 1
        ), rows AS (
            DELETE FROM hermes_outbox o USING doomed d WHERE o.id = d.id RETURNING 1
        ){AuditedBatch}
        SELECT (SELECT count(*) FROM rows), (SELECT count(*) FROM attempts)
        """;

    private const string AttemptsSql = $"""
        WITH doomed AS (
            SELECT a.id FROM hermes_delivery_attempts a
            WHERE a.started_at < now() - @retention
              AND NOT EXISTS (SELECT 1 FROM hermes_outbox o WHERE o.id = a.outbox_id AND o.status = '{OutboxStatusNames.Failed}')
            ORDER BY a.started_at
            LIMIT @batch
            FOR UPDATE SKIP LOCKED
        ), deleted AS (
            DELETE FROM hermes_delivery_attempts a USING doomed d WHERE a.id = d.id RETURNING 1
        ), rows AS (
            SELECT 1 WHERE false
        ), attempts AS (
            SELECT 1 FROM deleted
        ){AuditedBatch}
        SELECT 0::bigint, count(*) FROM deleted
        """;

    // The operator's purge (the CLI verb) appends an audit entry in each batch's own statement, for a batch that deleted
    // something: a purge is many short transactions, and the trail then never counts a row that was not deleted. The
    // worker's scheduled retention is not an operator action and is not audited.
    private const string AuditedBatch = """
        , audited AS (
            INSERT INTO hermes_audit (actor, action, outcome, detail)
            SELECT @actor, 'purge', 'succeeded', @detail || jsonb_build_object('outboxRows', (SELECT count(*) FROM rows), 'attemptLogs', (SELECT count(*) FROM attempts))
            WHERE EXISTS (SELECT 1 FROM doomed)
        )
        """;

    private static readonly (string Audited, string Plain, string Step)[] Statements =
    [
        (DeliveredSql, DeliveredSql.Replace(AuditedBatch, "", StringComparison.Ordinal), "delivered"),
        (AttemptsSql, AttemptsSql.Replace(AuditedBatch, "", StringComparison.Ordinal), "attemptLogs"),
    ];

    /// <summary>Purges in batches; <paramref name="progress"/> hears the outbox rows and attempt logs deleted so far after each batch.</summary>
    /// <remarks>With an <paramref name="actor"/> (the <c>purge</c> verb), each batch that deleted something appends its audit entry in its own statement; a purge that deleted nothing appends one entry saying so.</remarks>
    public async Task<PurgeResult> PurgeAsync(TimeSpan olderThan, CancellationToken cancellationToken, IProgress<long>? progress = null, AuditActor? actor = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(olderThan, TimeSpan.Zero);
        long rows = 0, attempts = 0;
        var detail = new Dictionary<string, object?>(StringComparer.Ordinal) { ["olderThan"] = olderThan };
        // Whole days first: the DELETEs below then find only the boundary day's rows (and a kept day's).
        List<DroppedPartition> dropped;
        await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken))
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
        {
            dropped = [.. (await AttemptPartitions.DropOlderThanAsync(connection, transaction, olderThan, cancellationToken)).Where(static d => d.Dropped)];
            if (actor is not null && dropped.Count > 0)
            {
                await AuditTrail.AppendAsync(connection, transaction, actor, AuditAction.Purge, [], new Dictionary<string, object?>(detail, StringComparer.Ordinal)
                {
                    ["step"] = "partitions",
                    ["partitions"] = dropped.Select(static d => d.Name).ToArray(),
                    ["outboxRows"] = 0,
                    ["attemptLogs"] = dropped.Sum(static d => d.AttemptLogs),
                }, cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
        }

        attempts += dropped.Sum(static d => d.AttemptLogs);
        if (dropped.Count > 0)
        {
            progress?.Report(attempts);
        }

        foreach (var (audited, plain, step) in Statements)
        {
            while (true)
            {
                await using var command = dataSource.CreateCommand(actor is null ? plain : audited);
                if (actor is not null)
                {
                    detail["step"] = step;
                    command.Parameters.Add(new NpgsqlParameter("actor", NpgsqlDbType.Text) { Value = actor.Value });
                    command.Parameters.Add(new NpgsqlParameter("detail", NpgsqlDbType.Jsonb) { Value = AuditTrail.Json(detail) });
                }

                command.Parameters.Add(new NpgsqlParameter("retention", NpgsqlDbType.Interval) { Value = olderThan });
                command.Parameters.Add(new NpgsqlParameter("batch", NpgsqlDbType.Integer) { Value = BatchSize });
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                await reader.ReadAsync(cancellationToken);
                var batchRows = reader.GetInt64(0);
                var batchAttempts = reader.GetInt64(1);
                rows += batchRows;
                attempts += batchAttempts;
                progress?.Report(rows + attempts);
                if (Math.Max(batchRows, batchAttempts) < BatchSize)
                {
                    break;
                }
            }
        }

        if (actor is not null && rows + attempts == 0)
        {
            detail.Remove("step");
            detail["outboxRows"] = 0;
            detail["attemptLogs"] = 0;
            await new AuditTrail(dataSource).AppendAsync(actor, AuditAction.Purge, [], detail, cancellationToken);
        }

        return new PurgeResult(olderThan, rows, attempts, dropped.Count);
    }
}
