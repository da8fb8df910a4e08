using Hermes.Domain;
using Npgsql;

namespace Hermes.Persistence.Operations;

/// <summary>How many leads hold one status (<c>null</c> status is reported as <see cref="DeliveryActivity.NoStatus"/>).</summary>
public sealed record StatusCount(string Status, long Count);

/// <summary>One hour of delivery attempts: those that delivered, those that did not (retried or gave up), and those that gave up.</summary>
public sealed record HourlyDeliveries(DateTimeOffset Hour, long Delivered, long FailedAttempts, long GaveUp);

/// <summary>The most recent POST to n8n.</summary>
public sealed record LastAttempt(DateTimeOffset StartedAt, string Outcome, int? StatusCode, string? WorkerId);

/// <summary>
/// What the console's overview shows beside <see cref="OutboxStats"/>: leads per status, the last 24 hours of attempts
/// by hour (oldest first, the current hour last), the last attempt and delivery, pending rows overdue by more than
/// <see cref="DeliveryActivity.OverdueAfter"/> (claimable but not claimed: no worker is running, or every worker's
/// circuit to n8n is open), and how many workers made an attempt in the last <see cref="DeliveryActivity.ActiveWindow"/>.
/// </summary>
public sealed record ActivityReport(
    DateTimeOffset At,
    IReadOnlyList<StatusCount> LeadsByStatus,
    IReadOnlyList<HourlyDeliveries> Hours,
    LastAttempt? LastAttempt,
    DateTimeOffset? LastDeliveredAt,
    long OverduePending,
    int ActiveWorkers);

/// <summary>
/// Delivery activity read from the attempt log and the outbox: the API cannot reach the workers or n8n, but what they
/// wrote tells whether they are working. One round trip of five statements, each on an index
/// (<c>idx_hermes_leads_status</c>, <c>idx_hermes_delivery_attempts_started_at</c>, <c>idx_hermes_outbox_pending</c>).
/// </summary>
public sealed class DeliveryActivity(NpgsqlDataSource dataSource)
{
    public const string NoStatus = "(none)";
    public const int Hours = 24;
    public static readonly TimeSpan OverdueAfter = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan ActiveWindow = TimeSpan.FromMinutes(15);

    internal const string LeadsByStatusSql = $"""
        SELECT coalesce(status, '{NoStatus}'), count(*) FROM hermes_leads WHERE NOT is_canary GROUP BY 1 ORDER BY 2 DESC, 1
        """;

    // Aggregate the day's attempts first (one range scan of the started_at index), then join the 24 hours on equality:
    // a range join of the hours to the attempts is planned as a nested loop over every attempt row, 24 times.
    private const string HoursSql = $"""
        WITH counted AS (
            SELECT date_trunc('hour', started_at) AS hour,
                   count(*) FILTER (WHERE outcome = '{DeliveryOutcomes.Delivered}') AS delivered,
                   count(*) FILTER (WHERE outcome <> '{DeliveryOutcomes.Delivered}') AS failed_attempts,
                   count(*) FILTER (WHERE outcome = '{DeliveryOutcomes.Failed}') AS gave_up
            FROM hermes_delivery_attempts
            WHERE started_at >= date_trunc('hour', now()) - interval '23 hours'
            GROUP BY 1
        )
        SELECT h.hour, coalesce(c.delivered, 0), coalesce(c.failed_attempts, 0), coalesce(c.gave_up, 0)
        FROM generate_series(date_trunc('hour', now()) - interval '23 hours', date_trunc('hour', now()), interval '1 hour') AS h(hour)
        LEFT JOIN counted c ON c.hour = h.hour
        ORDER BY h.hour
        """;

    private const string LastAttemptSql = """
        SELECT started_at, outcome, status_code, worker_id FROM hermes_delivery_attempts ORDER BY started_at DESC LIMIT 1
        """;

    private const string LastDeliveredSql = $"""
        SELECT max(delivered_at) FROM hermes_outbox WHERE status = '{OutboxStatusNames.Delivered}'
        """;

    private const string HealthSql = $"""
        SELECT now(),
               (SELECT count(*) FROM hermes_outbox WHERE status = '{OutboxStatusNames.Pending}' AND available_at < now() - interval '1 minute'),
               (SELECT count(DISTINCT worker_id) FROM hermes_delivery_attempts WHERE started_at >= now() - interval '15 minutes')::int
        """;

    public async Task<ActivityReport> ReadAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand(LeadsByStatusSql),
                new NpgsqlBatchCommand(HoursSql),
                new NpgsqlBatchCommand(LastAttemptSql),
                new NpgsqlBatchCommand(LastDeliveredSql),
                new NpgsqlBatchCommand(HealthSql),
            },
        };
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);

        var statuses = new List<StatusCount>();
        while (await reader.ReadAsync(cancellationToken))
        {
            statuses.Add(new StatusCount(reader.GetString(0), reader.GetInt64(1)));
        }

        await reader.NextResultAsync(cancellationToken);
        var hours = new List<HourlyDeliveries>(Hours);
        while (await reader.ReadAsync(cancellationToken))
        {
            hours.Add(new HourlyDeliveries(reader.GetFieldValue<DateTimeOffset>(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3)));
        }

        await reader.NextResultAsync(cancellationToken);
        LastAttempt? last = null;
        if (await reader.ReadAsync(cancellationToken))
        {
            last = new LastAttempt(reader.GetFieldValue<DateTimeOffset>(0), reader.GetString(1),
                reader.IsDBNull(2) ? null : reader.GetInt32(2), reader.IsDBNull(3) ? null : reader.GetString(3));
        }

        await reader.NextResultAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        DateTimeOffset? lastDelivered = reader.IsDBNull(0) ? null : reader.GetFieldValue<DateTimeOffset>(0);

        await reader.NextResultAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new ActivityReport(reader.GetFieldValue<DateTimeOffset>(0), statuses, hours, last, lastDelivered, reader.GetInt64(1), reader.GetInt32(2));
    }
}
