using Hermes.Domain;
using Npgsql;

namespace Hermes.Persistence.Operations;

/// <summary>Outbox rows per status. <see cref="InFlight"/> counts the pending rows a worker holds a lease on right now.</summary>
public sealed record OutboxCounts(long Pending, long InFlight, long Delivered, long Failed, long Cancelled);

/// <summary>
/// The outbox at a glance. <see cref="FailedAttemptsLastHour"/> counts attempts that did not deliver (to be retried
/// or given up); <see cref="GaveUpLastHour"/> the attempts after which a row was marked failed.
/// </summary>
public sealed record OutboxStats(
    DateTimeOffset At,
    OutboxCounts Counts,
    DateTimeOffset? OldestPendingCreatedAt,
    double? OldestPendingAgeSeconds,
    long DeliveredLastHour,
    long FailedAttemptsLastHour,
    long GaveUpLastHour);

/// <summary>Counts per status, the age of the oldest pending row, deliveries and failures in the last hour: one statement.</summary>
public sealed class OutboxStatistics(NpgsqlDataSource dataSource)
{
    // Each count reads the partial index of its status (idx_hermes_outbox_pending, _delivered_at, _stopped), never
    // the table: the outbox holds each lead's payload, and a scan of it with 100,000 rows took 126 ms against an
    // index-only read of a few megabytes (bench/console).
    // Canaries (docs/monitoring.md, "The canary") are subtracted: their rows are found through idx_hermes_outbox_canary,
    // a partial index of the few rows whose payload says "canary": true, and their attempts by the lead's primary key.
    // The oldest pending row is read from the pending index alone (it carries created_at), the canaries set aside by
    // their ids: testing each row's payload would read every pending row from the table.
    private const string Sql = $"""
        SELECT
            now(),
            (SELECT count(*) FROM hermes_outbox WHERE status = '{OutboxStatusNames.Pending}') - c.pending,
            (SELECT count(*) FROM hermes_outbox WHERE status = '{OutboxStatusNames.Pending}' AND locked_by IS NOT NULL AND available_at > now()) - c.in_flight,
            (SELECT count(*) FROM hermes_outbox WHERE status = '{OutboxStatusNames.Delivered}') - c.delivered,
            (SELECT count(*) FROM hermes_outbox WHERE status = '{OutboxStatusNames.Failed}') - c.failed,
            (SELECT count(*) FROM hermes_outbox WHERE status = '{OutboxStatusNames.Cancelled}') - c.cancelled,
            p.oldest,
            extract(epoch FROM now() - p.oldest)::float8,
            (SELECT count(*) FROM hermes_outbox WHERE status = '{OutboxStatusNames.Delivered}' AND delivered_at >= now() - interval '1 hour') - c.delivered_last_hour,
            (SELECT count(*) FROM hermes_delivery_attempts a WHERE started_at >= now() - interval '1 hour' AND outcome <> '{DeliveryOutcomes.Delivered}'
                AND NOT EXISTS (SELECT 1 FROM hermes_leads l WHERE l.id = a.lead_id AND l.is_canary)),
            (SELECT count(*) FROM hermes_delivery_attempts a WHERE started_at >= now() - interval '1 hour' AND outcome = '{DeliveryOutcomes.Failed}'
                AND NOT EXISTS (SELECT 1 FROM hermes_leads l WHERE l.id = a.lead_id AND l.is_canary))
        FROM (SELECT min(created_at) AS oldest FROM hermes_outbox
              WHERE status = '{OutboxStatusNames.Pending}'
                AND id NOT IN (SELECT id FROM hermes_outbox WHERE status = '{OutboxStatusNames.Pending}' AND (payload->>'canary') = 'true')) p,
            (SELECT
                count(*) FILTER (WHERE status = '{OutboxStatusNames.Pending}') AS pending,
                count(*) FILTER (WHERE status = '{OutboxStatusNames.Pending}' AND locked_by IS NOT NULL AND available_at > now()) AS in_flight,
                count(*) FILTER (WHERE status = '{OutboxStatusNames.Delivered}') AS delivered,
                count(*) FILTER (WHERE status = '{OutboxStatusNames.Failed}') AS failed,
                count(*) FILTER (WHERE status = '{OutboxStatusNames.Cancelled}') AS cancelled,
                count(*) FILTER (WHERE status = '{OutboxStatusNames.Delivered}' AND delivered_at >= now() - interval '1 hour') AS delivered_last_hour
             FROM hermes_outbox WHERE (payload->>'canary') = 'true') c
        """;

    public async Task<OutboxStats> ReadAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(Sql);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new OutboxStats(
            reader.GetFieldValue<DateTimeOffset>(0),
            new OutboxCounts(reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5)),
            reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6),
            reader.IsDBNull(7) ? null : Math.Max(0, reader.GetDouble(7)),
            reader.GetInt64(8),
            reader.GetInt64(9),
            reader.GetInt64(10));
    }
}
