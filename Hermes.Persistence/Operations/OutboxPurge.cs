using Hermes.Domain;
using Npgsql;
using NpgsqlTypes;

namespace Hermes.Persistence.Operations;

/// <summary>What a purge deleted.</summary>
public sealed record PurgeResult(TimeSpan OlderThan, long OutboxRows, long AttemptLogs);

/// <summary>
/// Retention: deletes delivered outbox rows (with their attempt logs) delivered longer ago than the retention
/// period, and attempt logs older than it. Attempt logs of <c>failed</c> rows are kept whatever their age: they are
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
        )
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
        )
        SELECT 0::bigint, count(*) FROM deleted
        """;

    /// <summary>Purges in batches; <paramref name="progress"/> hears the outbox rows and attempt logs deleted so far after each batch.</summary>
    public async Task<PurgeResult> PurgeAsync(TimeSpan olderThan, CancellationToken cancellationToken, IProgress<long>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(olderThan, TimeSpan.Zero);
        long rows = 0, attempts = 0;
        foreach (var sql in new[] { DeliveredSql, AttemptsSql })
        {
            while (true)
            {
                await using var command = dataSource.CreateCommand(sql);
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

        return new PurgeResult(olderThan, rows, attempts);
    }
}
