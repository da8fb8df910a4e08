using Hermes.Domain;
using Npgsql;
using NpgsqlTypes;

namespace Hermes.Persistence.Outbox;

/// <summary>A row the worker has claimed: everything needed to POST it and to write its outcome back.</summary>
/// <param name="Id">The outbox row's id.</param>
/// <param name="BackupId">The lead's <see cref="Lead.BackupId"/> (<c>hermes_leads.id</c>).</param>
/// <param name="LeadId">The lead's public id, for logs.</param>
/// <param name="MessageId">The frozen payload's <c>id</c> (<c>msg_&lt;leadId&gt;</c>).</param>
/// <param name="Payload">The frozen webhook body, exactly as it is sent and signed.</param>
/// <param name="Attempt">This attempt's number within the replay generation (1 for the first).</param>
/// <param name="ReplayCount">How many times an operator put the row back to pending.</param>
/// <param name="Traceparent">The submission's W3C trace context, when it was recorded.</param>
/// <param name="SinceCreated">How long ago the row was committed (<c>created_at</c>) when it was claimed, by the database's clock.</param>
/// <param name="Type">The message's event type: <see cref="OutboxMessage.LeadSubmittedType"/> or <see cref="OutboxMessage.LeadErasedType"/>.</param>
public sealed record ClaimedMessage(
    long Id,
    long BackupId,
    string LeadId,
    string MessageId,
    string Payload,
    int Attempt,
    int ReplayCount,
    string? Traceparent,
    TimeSpan SinceCreated = default,
    string Type = OutboxMessage.LeadSubmittedType)
{
    /// <summary>An erasure message: n8n deletes the Brevo contact and must answer <c>"erased": true</c>.</summary>
    public bool IsErasure => Type == OutboxMessage.LeadErasedType;
}

/// <summary>The outcome of one attempt, as it is written back (see <see cref="DeliveryOutcomes"/>).</summary>
public sealed record AttemptOutcome
{
    public required long OutboxId { get; init; }
    public required long BackupId { get; init; }
    public required int Attempt { get; init; }

    /// <summary>The replay generation of the claim (<c>replay_count</c>): with <see cref="Attempt"/> and the worker id, the claim token.</summary>
    public int ReplayCount { get; init; }

    /// <summary><see cref="DeliveryOutcomes.Delivered"/>, <see cref="DeliveryOutcomes.Retry"/> or <see cref="DeliveryOutcomes.Failed"/>.</summary>
    public required string Outcome { get; init; }

    public required DateTimeOffset StartedAt { get; init; }
    public required DateTimeOffset FinishedAt { get; init; }
    public int? StatusCode { get; init; }
    public string? Error { get; init; }
    public string? ResponseExcerpt { get; init; }

    /// <summary>For a retry or a failure: <see cref="FailureClasses.Outage"/> or <see cref="FailureClasses.Content"/>; null for a delivery.</summary>
    public string? FailureClass { get; init; }

    /// <summary>For a retry: how long until the row may be claimed again.</summary>
    public TimeSpan? RetryDelay { get; init; }

    /// <summary>For a delivery: the answer as JSON text for <c>n8n_response_data</c> (null when the body was empty).</summary>
    public string? ResponseData { get; init; }

    /// <summary>For a delivery: the Brevo contact id read from the answer, when there was one.</summary>
    public string? BrevoContactId { get; init; }

    public int DurationMs => (int)Math.Clamp((FinishedAt - StartedAt).TotalMilliseconds, 0, int.MaxValue);
}

/// <summary>A claimed row handed back untouched: the claim is undone so the row is taken again at once.</summary>
public sealed record ReleasedClaim(long OutboxId, int Attempt, int ReplayCount = 0);

/// <summary>
/// A place in the pending queue, in the order of its index (<c>idx_hermes_outbox_pending</c>: <c>available_at</c>, then
/// <c>id</c>). Why a claim may start there: a claimed row's old index entry stays behind it until vacuum removes it, and
/// while a long transaction holds back the xmin horizon vacuum cannot, nor can a scan mark it dead, so a claim from the
/// start of the index walks past every row claimed since that transaction began (the drain fell to half its rate in
/// bench/worker "held-xmin"). A worker draining a backlog starts its next claim where its last full batch began. A row
/// is left behind the floor only by being skipped (its lead or row was locked) or by becoming due at an earlier place
/// (a late commit, a released claim); the dispatcher scans from the top after a short batch and at least once a
/// second, so such a row waits a second at most.
/// </summary>
public readonly record struct ScanFloor(DateTime AvailableAt, long Id) : IComparable<ScanFloor>
{
    public int CompareTo(ScanFloor other)
    {
        var at = AvailableAt.CompareTo(other.AvailableAt);
        return at != 0 ? at : Id.CompareTo(other.Id);
    }
}

/// <summary>
/// The outbox's SQL, one statement per operation, run on the injected data source. Rows are leased by
/// visibility timeout: a claim pushes <c>available_at</c> to the end of the lease and counts the attempt, so
/// nothing stays locked while the worker talks HTTP, and a row whose worker died comes back by itself when
/// the lease ends. Outcomes and releases of a whole batch are written in one round trip.
/// </summary>
public sealed class OutboxStore(NpgsqlDataSource dataSource)
{
    /// <summary>The channel of <c>NOTIFY</c> that wakes the workers (see the <c>OutboxWakeUp</c> migration).</summary>
    public const string NotifyChannel = "hermes_outbox";

    /// <summary>
    /// The claim (parameters <c>@batch</c>, <c>@lease</c>, <c>@worker</c>); <c>doctor</c> explains this very statement.
    /// A row whose lead is locked — an erase or a replay open on it, an outcome being written, an operator's transaction
    /// — is skipped like a row another claim holds: its lease may have ended only because its outcome waits for that
    /// lock, and sending it again meanwhile would be a duplicate while its first worker still lives. Both locks skip
    /// rather than wait, so the claim never waits for anyone and cannot take part in a deadlock.
    /// The last column is each row's place in the queue before the claim (the scan floor, <see cref="ScanFloor"/>).
    /// </summary>
    internal const string ClaimSql = $"""
        WITH c AS (
            SELECT o.id, o.available_at
            FROM hermes_leads l JOIN hermes_outbox o ON o.lead_id = l.id
            WHERE o.status = '{OutboxStatusNames.Pending}' AND o.available_at <= now()/*from*/
            ORDER BY o.available_at, o.id
            LIMIT @batch
            FOR SHARE OF l SKIP LOCKED
            FOR UPDATE OF o SKIP LOCKED
        )
        UPDATE hermes_outbox o
        SET available_at = now() + @lease, attempts = o.attempts + 1, locked_by = @worker
        FROM c, hermes_leads l
        WHERE o.id = c.id AND l.id = o.lead_id
        RETURNING o.id, o.lead_id, l.lead_id, coalesce(o.payload->>'id', '{WebhookIds.MessagePrefix}' || l.lead_id), o.payload::text,
                  o.attempts, o.replay_count, o.traceparent, now() - o.created_at, o.type, c.available_at
        """;

    // The claim from a scan floor (@from_at, @from_id): the same statement with a lower bound on the pending index's own
    // order, (available_at, id), so the scan starts there. A statement of its own, so the claim without a floor, which
    // is every claim outside a backlog, keeps its plan.
    internal static readonly string ClaimFromSql = ClaimSql.Replace("/*from*/", " AND (o.available_at, o.id) >= (@from_at, @from_id)", StringComparison.Ordinal);

    /// <summary>The parameters of <see cref="ClaimSql"/>, and of <see cref="ClaimFromSql"/> when <paramref name="from"/> is given.</summary>
    internal static void AddClaimParameters(NpgsqlParameterCollection parameters, int batchSize, TimeSpan lease, string workerId, ScanFloor? from)
    {
        parameters.Add(new NpgsqlParameter<int>("batch", batchSize));
        parameters.Add(new NpgsqlParameter<TimeSpan>("lease", lease));
        parameters.Add(new NpgsqlParameter<string>("worker", workerId));
        if (from is { } floor)
        {
            parameters.Add(new NpgsqlParameter<DateTime>("from_at", floor.AvailableAt) { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
            parameters.Add(new NpgsqlParameter<long>("from_id", floor.Id));
        }
    }

    // Lock order, shared with erasure (LeadErasure): the leads first, in id order, then their outbox rows. An erase
    // that is open makes this wait here, before the outcome statement takes its snapshot, so that statement sees the
    // erasure and blanks the attempt; and an erase that comes later waits for the attempt to be logged, and blanks it.
    private const string LockLeadsSql = """
        SELECT id FROM hermes_leads WHERE id = ANY(@lead_ids) ORDER BY id FOR UPDATE
        """;

    // The claim token is (attempts, replay_count, locked_by): a retry or a failure lands only while this worker still
    // holds that attempt's claim of that replay generation, so it never moves a lease that someone else holds, nor a
    // newer claim of its own after a replay. A delivery is recorded even when the lease ran out and another worker
    // took the row meanwhile (the answer is the truth), and also when an erase cancelled the row while it was in
    // flight: the lead stays erased, but its Brevo contact id is kept, and the erasure that waited for it
    // (awaiting_delivery) is queued in this same statement (q). An in-flight delivery of such a lead that ends
    // without reaching n8n will never be sent again: no contact id will come (g).
    // A lead.erased row's outcome touches only the lead's CRM erasure columns (e): confirmed with n8n's time when it
    // was delivered (the decision made it a delivery only for "erased": true), failed when it gave up.
    // The row's failure_class is its current replay generation's (an attempt 1 starts a generation afresh; one content
    // failure makes it content) and failed_at is when it gave up, by this database's clock: automatic recovery
    // (OutboxAutoRecovery) replays only rows whose generation failed with outages alone, within an outage's window.
    // The attempt log gets every attempt either way: it is the history an operator reads. For an erased lead a
    // delivery's attempt is logged without its error and response excerpt; an erasure's keeps them (they name no
    // person, and they are why the CRM has not confirmed). "Erased" is erased_at, which only an erase sets (the worker
    // role may read it), never the status, which other statements write.
    private static readonly string CompleteSql = $"""
        WITH r AS (
            SELECT *
            FROM unnest(@outbox_ids, @lead_ids, @attempts, @replays, @outcomes, @started_at, @finished_at, @durations,
                        @status_codes, @errors, @excerpts, @retry_delays, @response_data, @brevo_ids, @failure_classes)
                AS r(outbox_id, lead_id, attempt, replay_count, outcome, started_at, finished_at, duration_ms,
                     status_code, error, excerpt, retry_delay, response_data, brevo_contact_id, failure_class)
        ),
        o AS (
            UPDATE hermes_outbox o
            SET status = CASE r.outcome WHEN '{DeliveryOutcomes.Retry}' THEN '{OutboxStatusNames.Pending}' ELSE r.outcome END,
                delivered_at = CASE WHEN r.outcome = '{DeliveryOutcomes.Delivered}' THEN r.finished_at ELSE o.delivered_at END,
                available_at = CASE WHEN r.outcome = '{DeliveryOutcomes.Retry}' THEN now() + r.retry_delay ELSE o.available_at END,
                last_error = r.error,
                last_status_code = r.status_code,
                failure_class = CASE WHEN r.outcome = '{DeliveryOutcomes.Delivered}' THEN o.failure_class
                                     WHEN r.attempt = 1 OR o.failure_class IS NULL THEN r.failure_class
                                     WHEN '{FailureClasses.Content}' IN (o.failure_class, r.failure_class) THEN '{FailureClasses.Content}'
                                     ELSE '{FailureClasses.Outage}' END,
                failed_at = CASE WHEN r.outcome = '{DeliveryOutcomes.Failed}' THEN now() ELSE o.failed_at END
            FROM r
            WHERE o.id = r.outbox_id AND o.replay_count = r.replay_count
              AND ((r.outcome = '{DeliveryOutcomes.Delivered}' AND o.status IN ('{OutboxStatusNames.Pending}', '{OutboxStatusNames.Cancelled}'))
                   OR (o.status = '{OutboxStatusNames.Pending}' AND o.attempts = r.attempt AND o.locked_by = @worker))
            RETURNING o.id, o.type
        ),
        l AS (
            UPDATE hermes_leads l
            SET n8n_webhook_sent_at = CASE WHEN r.outcome = '{DeliveryOutcomes.Delivered}' THEN r.started_at ELSE l.n8n_webhook_sent_at END,
                n8n_response_received_at = CASE WHEN r.outcome = '{DeliveryOutcomes.Delivered}' THEN r.finished_at ELSE l.n8n_response_received_at END,
                n8n_response_data = CASE WHEN r.outcome = '{DeliveryOutcomes.Delivered}' AND l.erased_at IS NULL THEN r.response_data ELSE l.n8n_response_data END,
                n8n_success = r.outcome = '{DeliveryOutcomes.Delivered}',
                n8n_error_message = CASE WHEN r.outcome = '{DeliveryOutcomes.Delivered}' THEN NULL WHEN l.erased_at IS NOT NULL THEN l.n8n_error_message ELSE r.error END,
                brevo_contact_id = CASE WHEN r.outcome = '{DeliveryOutcomes.Delivered}' THEN coalesce(r.brevo_contact_id, l.brevo_contact_id) ELSE l.brevo_contact_id END,
                status = CASE WHEN l.erased_at IS NOT NULL THEN '{LeadStatusNames.Erased}'
                              WHEN r.outcome = '{DeliveryOutcomes.Delivered}' THEN '{LeadStatusNames.Forwarded}' WHEN r.outcome = '{DeliveryOutcomes.Failed}' THEN '{LeadStatusNames.DeliveryFailed}' ELSE l.status END,
                processed_at = CASE WHEN r.outcome = '{DeliveryOutcomes.Delivered}' THEN r.finished_at ELSE l.processed_at END,
                crm_erasure_state = CASE
                    WHEN l.crm_erasure_state = '{CrmErasureStateNames.AwaitingDelivery}' AND r.outcome = '{DeliveryOutcomes.Delivered}' THEN
                        CASE WHEN coalesce(r.brevo_contact_id, l.brevo_contact_id) IS NOT NULL THEN '{CrmErasureStateNames.Queued}' ELSE '{CrmErasureStateNames.NoContactId}' END
                    ELSE l.crm_erasure_state END
            FROM r JOIN o ON o.id = r.outbox_id AND o.type <> '{OutboxMessage.LeadErasedType}'
                   JOIN hermes_leads p ON p.id = r.lead_id
            WHERE l.id = r.lead_id
            RETURNING l.id, l.lead_id, l.brevo_contact_id, l.erased_at,
                      p.crm_erasure_state = '{CrmErasureStateNames.AwaitingDelivery}' AND l.crm_erasure_state = '{CrmErasureStateNames.Queued}' AS newly_queued
        ),
        q AS (
            {ErasureMessages.InsertFrom("l", "e.newly_queued")}
        ),
        g AS (
            UPDATE hermes_leads l
            SET crm_erasure_state = '{CrmErasureStateNames.NoContactId}'
            FROM r JOIN hermes_outbox t ON t.id = r.outbox_id AND t.type <> '{OutboxMessage.LeadErasedType}'
            WHERE l.id = r.lead_id AND l.crm_erasure_state = '{CrmErasureStateNames.AwaitingDelivery}'
              AND r.outcome <> '{DeliveryOutcomes.Delivered}' AND t.status = '{OutboxStatusNames.Cancelled}'
        ),
        x AS (
            UPDATE hermes_leads l
            SET crm_erasure_state = CASE r.outcome WHEN '{DeliveryOutcomes.Delivered}' THEN '{CrmErasureStateNames.Confirmed}'
                                                   WHEN '{DeliveryOutcomes.Failed}' THEN '{CrmErasureStateNames.Failed}'
                                                   ELSE l.crm_erasure_state END,
                crm_erased_at = CASE WHEN r.outcome = '{DeliveryOutcomes.Delivered}' THEN r.finished_at ELSE l.crm_erased_at END
            FROM r JOIN o ON o.id = r.outbox_id AND o.type = '{OutboxMessage.LeadErasedType}'
            WHERE l.id = r.lead_id
        ),
        a AS (
            INSERT INTO hermes_delivery_attempts
                (outbox_id, lead_id, attempt_number, started_at, duration_ms, status_code, outcome, error, response_excerpt, worker_id, failure_class)
            SELECT r.outbox_id, r.lead_id, r.attempt, r.started_at, r.duration_ms, r.status_code, r.outcome,
                   CASE WHEN e.erased_at IS NULL OR t.type = '{OutboxMessage.LeadErasedType}' THEN r.error END,
                   CASE WHEN e.erased_at IS NULL OR t.type = '{OutboxMessage.LeadErasedType}' THEN r.excerpt END, @worker,
                   CASE WHEN r.outcome <> '{DeliveryOutcomes.Delivered}' THEN r.failure_class END
            FROM r LEFT JOIN hermes_leads e ON e.id = r.lead_id LEFT JOIN hermes_outbox t ON t.id = r.outbox_id
        )
        SELECT count(*) FROM o
        """;

    // The outcome writer's bound on its own round trip: a lock it waits for (a lead an erase or an operator holds) or a
    // statement that runs too long is abandoned by the server once the lease's remaining time is spent.
    private const string BoundSql = """
        SELECT set_config('lock_timeout', @limit, true), set_config('statement_timeout', @limit, true)
        """;

    // Undoes a claim that was never acted on, and wakes the other workers, whose next look at the table
    // would otherwise wait for the lease end they saw.
    private const string ReleaseSql = $"""
        WITH u AS (
            UPDATE hermes_outbox o
            SET available_at = now(), attempts = o.attempts - 1, locked_by = NULL
            FROM unnest(@outbox_ids, @attempts, @replays) AS r(outbox_id, attempt, replay_count)
            WHERE o.id = r.outbox_id AND o.status = '{OutboxStatusNames.Pending}' AND o.attempts = r.attempt AND o.replay_count = r.replay_count
              AND o.locked_by = @worker
            RETURNING o.id
        ),
        n AS (SELECT count(*) AS released FROM u)
        SELECT n.released, CASE WHEN n.released > 0 THEN pg_notify('{NotifyChannel}', '') END
        FROM n
        """;

    private const string NextDueSql = $"""
        SELECT min(available_at) - now()
        FROM hermes_outbox
        WHERE status = '{OutboxStatusNames.Pending}'
        """;

    /// <summary>
    /// Claims up to <paramref name="batchSize"/> due rows in one statement: each becomes invisible until
    /// <paramref name="lease"/> from now and counts one more attempt. Rows other workers are claiming are skipped.
    /// </summary>
    public async Task<IReadOnlyList<ClaimedMessage>> ClaimAsync(int batchSize, TimeSpan lease, string workerId, CancellationToken cancellationToken) =>
        (await ClaimAsync(batchSize, lease, workerId, null, cancellationToken)).Batch;

    /// <summary>
    /// As <see cref="ClaimAsync(int, TimeSpan, string, CancellationToken)"/>, looking only at rows from
    /// <paramref name="from"/> on in the queue's order (null: all of them); <c>Floor</c> is the earliest place in the
    /// queue the batch was claimed from (null when nothing was). A worker draining a backlog starts its next claim there
    /// (<see cref="ScanFloor"/>).
    /// </summary>
    public async Task<(IReadOnlyList<ClaimedMessage> Batch, ScanFloor? Floor)> ClaimAsync(int batchSize, TimeSpan lease, string workerId, ScanFloor? from, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(from is null ? ClaimSql : ClaimFromSql);
        AddClaimParameters(command.Parameters, batchSize, lease, workerId, from);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var claimed = new List<ClaimedMessage>(batchSize);
        ScanFloor? earliest = null;
        while (await reader.ReadAsync(cancellationToken))
        {
            claimed.Add(new ClaimedMessage(
                reader.GetInt64(0),
                reader.GetInt64(1),
                reader.GetString(2),
                reader.GetString(3),
                reader.GetString(4),
                reader.GetInt32(5),
                reader.GetInt32(6),
                reader.IsDBNull(7) ? null : reader.GetString(7),
                reader.GetFieldValue<TimeSpan>(8),
                reader.GetString(9)));
            var place = new ScanFloor(reader.GetFieldValue<DateTime>(10), reader.GetInt64(0));
            earliest = earliest is { } e && e.CompareTo(place) <= 0 ? e : place;
        }

        // Oldest first, as claimed: RETURNING does not keep the CTE's order.
        claimed.Sort(static (a, b) => a.Id.CompareTo(b.Id));
        return (claimed, earliest);
    }

    /// <summary>
    /// Writes the outcomes of a batch of attempts and undoes the claims in <paramref name="released"/>, in one
    /// round trip. Returns how many outbox rows the outcomes changed.
    /// </summary>
    public Task<int> CompleteAsync(IReadOnlyList<AttemptOutcome> outcomes, IReadOnlyList<ReleasedClaim> released, string workerId, CancellationToken cancellationToken) =>
        CompleteAsync(outcomes, released, workerId, Timeout.InfiniteTimeSpan, cancellationToken);

    /// <summary>
    /// As <see cref="CompleteAsync(IReadOnlyList{AttemptOutcome}, IReadOnlyList{ReleasedClaim}, string, CancellationToken)"/>,
    /// with the server told to give up after <paramref name="timeLimit"/>: every lock wait (<c>lock_timeout</c>, SQLSTATE
    /// 55P03) and every statement (<c>statement_timeout</c>, 57014) of the round trip. Nothing is written then.
    /// </summary>
    public async Task<int> CompleteAsync(IReadOnlyList<AttemptOutcome> outcomes, IReadOnlyList<ReleasedClaim> released, string workerId, TimeSpan timeLimit, CancellationToken cancellationToken)
    {
        if (outcomes.Count == 0 && released.Count == 0)
        {
            return 0;
        }

        // One round trip, one implicit transaction: the lead locks are held until the outcomes are written.
        await using var batch = dataSource.CreateBatch();
        var bounded = timeLimit != Timeout.InfiniteTimeSpan;
        if (bounded)
        {
            // Set for this transaction only (is_local), in the same round trip: it ends with the batch, also behind a
            // transaction pooler, and the server enforces it by itself, whether or not a cancel request gets through.
            var milliseconds = Math.Max(1, (long)Math.Ceiling(timeLimit.TotalMilliseconds)).ToString(System.Globalization.CultureInfo.InvariantCulture) + "ms";
            batch.BatchCommands.Add(new NpgsqlBatchCommand(BoundSql)
            {
                Parameters = { new NpgsqlParameter("limit", NpgsqlDbType.Text) { Value = milliseconds } },
            });
        }

        if (outcomes.Count > 0)
        {
            var backupIds = outcomes.Select(static o => o.BackupId).Distinct().ToArray();
            batch.BatchCommands.Add(new NpgsqlBatchCommand(LockLeadsSql)
            {
                Parameters = { new NpgsqlParameter("lead_ids", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = backupIds } },
            });
            batch.BatchCommands.Add(CompleteCommand(outcomes, workerId));
        }

        if (released.Count > 0)
        {
            batch.BatchCommands.Add(ReleaseCommand(released, workerId));
        }

        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var changed = 0;
        if (bounded)
        {
            await reader.NextResultAsync(cancellationToken);
        }

        if (outcomes.Count > 0)
        {
            // The lead locks' rows first, then the outcome statement's count.
            while (await reader.ReadAsync(cancellationToken))
            {
            }

            await reader.NextResultAsync(cancellationToken);
            if (await reader.ReadAsync(cancellationToken))
            {
                changed = (int)reader.GetInt64(0);
            }
        }

        return changed;
    }

    /// <summary>Undoes claims that were never acted on (see <see cref="ReleasedClaim"/>); returns how many rows were released.</summary>
    public async Task<int> ReleaseAsync(IReadOnlyList<ReleasedClaim> released, string workerId, CancellationToken cancellationToken)
    {
        if (released.Count == 0)
        {
            return 0;
        }

        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(ReleaseCommand(released, workerId));
        return Convert.ToInt32(await batch.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>How long until the next pending row becomes due (zero when one is due now), or null when none is pending.</summary>
    public async Task<TimeSpan?> NextDueAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(NextDueSql);
        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value is TimeSpan due ? (due < TimeSpan.Zero ? TimeSpan.Zero : due) : null;
    }

    private static NpgsqlBatchCommand CompleteCommand(IReadOnlyList<AttemptOutcome> outcomes, string workerId)
    {
        var n = outcomes.Count;
        var outboxIds = new long[n];
        var backupIds = new long[n];
        var attempts = new int[n];
        var replays = new int[n];
        var kinds = new string[n];
        var started = new DateTimeOffset[n];
        var finished = new DateTimeOffset[n];
        var durations = new int[n];
        var statusCodes = new int?[n];
        var errors = new string?[n];
        var excerpts = new string?[n];
        var delays = new TimeSpan?[n];
        var data = new string?[n];
        var brevoIds = new string?[n];
        var failureClasses = new string?[n];
        for (var i = 0; i < n; i++)
        {
            var o = outcomes[i];
            outboxIds[i] = o.OutboxId;
            backupIds[i] = o.BackupId;
            attempts[i] = o.Attempt;
            replays[i] = o.ReplayCount;
            kinds[i] = o.Outcome;
            started[i] = o.StartedAt;
            finished[i] = o.FinishedAt;
            durations[i] = o.DurationMs;
            statusCodes[i] = o.StatusCode;
            errors[i] = o.Error;
            excerpts[i] = o.ResponseExcerpt;
            delays[i] = o.RetryDelay;
            data[i] = o.ResponseData;
            brevoIds[i] = o.BrevoContactId;
            failureClasses[i] = o.Outcome == DeliveryOutcomes.Delivered ? null : o.FailureClass ?? FailureClasses.Content;
        }

        return new NpgsqlBatchCommand(CompleteSql)
        {
            Parameters =
            {
                new NpgsqlParameter("outbox_ids", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = outboxIds },
                new NpgsqlParameter("lead_ids", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = backupIds },
                new NpgsqlParameter("attempts", NpgsqlDbType.Array | NpgsqlDbType.Integer) { Value = attempts },
                new NpgsqlParameter("replays", NpgsqlDbType.Array | NpgsqlDbType.Integer) { Value = replays },
                new NpgsqlParameter("outcomes", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = kinds },
                new NpgsqlParameter("started_at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = started },
                new NpgsqlParameter("finished_at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { Value = finished },
                new NpgsqlParameter("durations", NpgsqlDbType.Array | NpgsqlDbType.Integer) { Value = durations },
                new NpgsqlParameter("status_codes", NpgsqlDbType.Array | NpgsqlDbType.Integer) { Value = statusCodes },
                new NpgsqlParameter("errors", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = errors },
                new NpgsqlParameter("excerpts", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = excerpts },
                new NpgsqlParameter("retry_delays", NpgsqlDbType.Array | NpgsqlDbType.Interval) { Value = delays },
                new NpgsqlParameter("response_data", NpgsqlDbType.Array | NpgsqlDbType.Jsonb) { Value = data },
                new NpgsqlParameter("brevo_ids", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = brevoIds },
                new NpgsqlParameter("failure_classes", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = failureClasses },
                new NpgsqlParameter("worker", NpgsqlDbType.Text) { Value = workerId },
            },
        };
    }

    private static NpgsqlBatchCommand ReleaseCommand(IReadOnlyList<ReleasedClaim> released, string workerId) => new(ReleaseSql)
    {
        Parameters =
        {
            new NpgsqlParameter("outbox_ids", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = released.Select(static r => r.OutboxId).ToArray() },
            new NpgsqlParameter("attempts", NpgsqlDbType.Array | NpgsqlDbType.Integer) { Value = released.Select(static r => r.Attempt).ToArray() },
            new NpgsqlParameter("replays", NpgsqlDbType.Array | NpgsqlDbType.Integer) { Value = released.Select(static r => r.ReplayCount).ToArray() },
            new NpgsqlParameter("worker", NpgsqlDbType.Text) { Value = workerId },
        },
    };
}
