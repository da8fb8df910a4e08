using Hermes.Domain;
using Npgsql;
using NpgsqlTypes;

namespace Hermes.Persistence.Operations;

/// <summary>What one automatic recovery did.</summary>
/// <param name="Ran">False when another worker held the recovery lock: it recovers this outage, this one did nothing.</param>
/// <param name="Count">Outbox rows put back to pending.</param>
/// <param name="LeadIds">The first 100 leads requeued (<see cref="OutboxReplay.MaxListed"/>), by id.</param>
/// <param name="AuditId">The audit entry written with the replay; null when nothing was replayed.</param>
public sealed record AutoRecoveryResult(bool Ran, long Count, IReadOnlyList<string> LeadIds, long? AuditId);

/// <summary>
/// The replay the worker makes by itself when its circuit breaker closes after an outage (<c>Outbox:AutoRecover</c>):
/// the rows that gave up (<c>failed</c>) within the outage's window, whose current replay generation failed with
/// outage answers only (<c>failure_class = 'outage'</c>, written by the outcome writer) and that the system never
/// recovered before (<c>auto_recovered_generation IS NULL</c>). One statement, with <see cref="OutboxReplay"/>'s
/// rules: the leads are locked first, in id order; erased leads are never replayed; the rows are reset the same way
/// (<c>replay_count</c> raised) and their leads requeued. It also records the generation it made in
/// <c>auto_recovered_generation</c>, so a row is recovered automatically once at most, and appends the audit entry
/// (<c>system:auto-recover</c>, <c>auto_recover</c>) through <c>hermes_audit_auto_recover</c> in the same statement.
/// A transaction-level advisory lock, tried and never waited for, lets one worker at a time recover: another replica
/// whose circuit closes meanwhile does nothing. At most <c>@max_rows</c> rows, oldest failure first, each due
/// <c>@spacing</c> after the one before, so a receiver that just came back is not sent the whole backlog at once.
/// </summary>
public sealed class OutboxAutoRecovery(NpgsqlDataSource dataSource)
{
    /// <summary>The advisory lock's key (any constant that no other Hermes lock uses).</summary>
    public const long LockKey = 0x4865_726D_6573_0001;

    /// <summary>The audit trail's actor for the system's replays.</summary>
    public const string Actor = "system:auto-recover";

    // Checked when the candidates are chosen and again by the UPDATE on each row's newest version (a row an operator
    // replayed or a worker completed meanwhile drops out).
    private const string Eligible = $"""
        o.status = '{OutboxStatusNames.Failed}' AND o.failure_class = '{FailureClasses.Outage}' AND o.auto_recovered_generation IS NULL
        """;

    /// <summary>
    /// How much earlier than the outage the worker measured the window opens. The worker reads its clock when an attempt
    /// fails and again before this statement; the database stamps <c>failed_at</c> when that outcome is written and
    /// <c>now()</c> when this statement's transaction starts. Under load the gap before the statement can outgrow the
    /// gap before the outcome, and the outage's first row fell outside a window of the measured length. A minute also
    /// takes in a row another worker failed just before this one saw the outage. Only rows that gave up with outage
    /// answers alone and were never delivered can be in it.
    /// </summary>
    public static readonly TimeSpan WindowSlack = TimeSpan.FromMinutes(1);

    public const string RecoverSql = $"""
        WITH gate AS MATERIALIZED (
            SELECT pg_try_advisory_xact_lock(@lock_key) AS got
        ), candidates AS MATERIALIZED (
            SELECT o.id, o.lead_id, row_number() OVER (ORDER BY o.failed_at, o.id) AS n
            FROM hermes_outbox o
            WHERE (SELECT got FROM gate) AND {Eligible}
              AND o.failed_at >= now() - @outage_length - @window_slack
            ORDER BY o.failed_at, o.id
            LIMIT @max_rows
        ), locked AS (
            SELECT array_agg(id) AS ids FROM (
                SELECT l.id FROM hermes_leads l
                WHERE l.erased_at IS NULL AND l.id IN (SELECT lead_id FROM candidates)
                ORDER BY l.id
                FOR UPDATE OF l
            ) chosen
        ), replayed AS (
            UPDATE hermes_outbox o
            SET status = '{OutboxStatusNames.Pending}', attempts = 0, available_at = now() + @spacing * (c.n - 1), locked_by = NULL,
                replay_count = o.replay_count + 1, last_error = NULL, auto_recovered_generation = o.replay_count + 1
            FROM candidates c
            WHERE o.id = c.id AND o.lead_id = ANY((SELECT ids FROM locked)::bigint[]) AND {Eligible}
            RETURNING o.id, o.lead_id
        ), requeued AS (
            UPDATE hermes_leads l SET status = '{LeadStatusNames.Queued}'
            WHERE l.id IN (SELECT lead_id FROM replayed)
        ), listed AS (
            SELECT coalesce(array_agg(l.lead_id ORDER BY l.id), ARRAY[]::text[]) AS lead_ids, count(*) AS leads
            FROM hermes_leads l WHERE l.id IN (SELECT lead_id FROM replayed)
        ), audited AS (
            SELECT hermes_audit_auto_recover(s.lead_ids[1:{AuditTrail.MaxLeadIdsText}], s.leads,
                jsonb_build_object('rows', (SELECT count(*) FROM replayed), 'outageSeconds', round(extract(epoch FROM @outage_length)),
                                   'maxRows', @max_rows, 'worker', @worker)) AS id
            FROM listed s WHERE s.leads > 0
        )
        SELECT (SELECT got FROM gate), (SELECT count(*) FROM replayed), (SELECT lead_ids[1:100] FROM listed), (SELECT id FROM audited)
        """;

    /// <summary>
    /// Recovers the rows that failed within the last <paramref name="outageLength"/> (by the database's clock), at most
    /// <paramref name="maxRows"/>, the n-th due <paramref name="spacing"/> × (n − 1) from now.
    /// </summary>
    public async Task<AutoRecoveryResult> RecoverAsync(TimeSpan outageLength, int maxRows, TimeSpan spacing, string workerId, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        await using var command = dataSource.CreateCommand(RecoverSql);
        command.Parameters.Add(new NpgsqlParameter("lock_key", NpgsqlDbType.Bigint) { Value = LockKey });
        command.Parameters.Add(new NpgsqlParameter("window_slack", NpgsqlDbType.Interval) { Value = WindowSlack });
        command.Parameters.Add(new NpgsqlParameter("outage_length", NpgsqlDbType.Interval) { Value = outageLength < TimeSpan.Zero ? TimeSpan.Zero : outageLength });
        command.Parameters.Add(new NpgsqlParameter("max_rows", NpgsqlDbType.Integer) { Value = maxRows });
        command.Parameters.Add(new NpgsqlParameter("spacing", NpgsqlDbType.Interval) { Value = spacing });
        command.Parameters.Add(new NpgsqlParameter("worker", NpgsqlDbType.Text) { Value = workerId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new AutoRecoveryResult(
            reader.GetBoolean(0),
            reader.GetInt64(1),
            reader.IsDBNull(2) ? [] : reader.GetFieldValue<string[]>(2),
            reader.IsDBNull(3) ? null : reader.GetInt64(3));
    }
}
