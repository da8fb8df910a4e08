using System.Collections.Frozen;
using Hermes.Domain;
using Npgsql;
using NpgsqlTypes;

namespace Hermes.Persistence.Operations;

/// <summary>Which outbox rows to put back to pending. Times compare with the row's <c>created_at</c> (when the lead was submitted).</summary>
public sealed record ReplayRequest
{
    /// <summary>The statuses a replay may start from.</summary>
    public static readonly IReadOnlyList<string> ReplayableStatuses = [OutboxStatusNames.Failed, OutboxStatusNames.Delivered, OutboxStatusNames.Cancelled];

    public string Status { get; init; } = OutboxStatusNames.Failed;

    /// <summary>Public lead ids (<c>lead_…</c>); empty means every lead.</summary>
    public IReadOnlyList<string> LeadIds { get; init; } = [];

    /// <summary>Rows created at or after this time.</summary>
    public DateTimeOffset? Since { get; init; }

    /// <summary>Rows created before this time.</summary>
    public DateTimeOffset? Until { get; init; }

    /// <summary>Count and list the rows, change nothing.</summary>
    public bool DryRun { get; init; }

    /// <summary>What is wrong with the request, per field; empty when it can run.</summary>
    public IReadOnlyDictionary<string, string[]> Validate()
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (!ReplayableStatuses.Contains(Status, StringComparer.Ordinal))
        {
            errors["status"] = [$"Must be one of: {string.Join(", ", ReplayableStatuses)}."];
        }

        if (LeadIds.Any(string.IsNullOrWhiteSpace))
        {
            errors["leadIds"] = ["Lead ids must not be empty."];
        }

        if (Since is { } since && Until is { } until && since >= until)
        {
            errors["until"] = ["Must be later than 'since'."];
        }

        return errors;
    }
}

/// <summary>What a replay did (or, for a dry run, would do). <see cref="LeadIds"/> lists at most <see cref="OutboxReplay.MaxListed"/> leads.</summary>
public sealed record ReplayResult(bool DryRun, string Status, long Count, IReadOnlyList<string> LeadIds);

/// <summary>
/// Puts chosen outbox rows back to <c>pending</c> with their attempts zeroed and <c>replay_count</c> raised, and their
/// leads back to <c>queued</c>: one SQL statement, the one docs/operating.md prints for operators who prefer psql. The
/// wake-up trigger (<c>hermes_outbox_notify_requeue</c>) sends <c>NOTIFY hermes_outbox</c> on commit, so running
/// workers claim the rows at once. Leads that were erased are never replayed: their payload is anonymised. The
/// statement locks the chosen leads first, in id order, as erasure and the outcome writer do, and decides on each
/// lead's committed state: a replay that meets an open erase waits for it and then leaves the lead alone.
/// </summary>
public sealed class OutboxReplay(NpgsqlDataSource dataSource)
{
    public const int MaxListed = 100;

    // The leads a replay may touch, and the rows of theirs it chooses: shared by the replay and its dry run so both
    // always agree.
    private const string LeadSelection = """
        l.erased_at IS NULL AND (cardinality(@lead_ids) = 0 OR l.lead_id = ANY(@lead_ids))
        """;

    private const string RowSelection = """
        o.status = @status
        AND (@since IS NULL OR o.created_at >= @since)
        AND (@until IS NULL OR o.created_at < @until)
        """;

    /// <summary>
    /// The replay: lock the chosen leads, reset their chosen rows, requeue the leads, list the first leads and count
    /// them all. Under READ COMMITTED a <c>FOR UPDATE</c> that had to wait re-reads the lead's newest version and checks
    /// <c>erased_at IS NULL</c> again, so a lead erased meanwhile drops out; the rows are changed only through the array
    /// of locked leads, which PostgreSQL computes (an InitPlan) before it touches any outbox row.
    /// </summary>
    public const string ReplaySql = ReplayCtes + "\n" + ReplayAnswer;

    private const string ReplayCtes = $"""
        WITH locked AS (
            SELECT array_agg(id) AS ids FROM (
                SELECT l.id FROM hermes_leads l
                WHERE {LeadSelection}
                  AND EXISTS (SELECT 1 FROM hermes_outbox o WHERE o.lead_id = l.id AND {RowSelection})
                ORDER BY l.id
                FOR UPDATE OF l
            ) chosen
        ), replayed AS (
            UPDATE hermes_outbox o
            SET status = '{OutboxStatusNames.Pending}', attempts = 0, available_at = now(), locked_by = NULL,
                replay_count = o.replay_count + 1, last_error = NULL
            WHERE o.lead_id = ANY((SELECT ids FROM locked)::bigint[]) AND {RowSelection}
            RETURNING o.id, o.lead_id
        ), requeued AS (
            UPDATE hermes_leads l SET status = '{LeadStatusNames.Queued}'
            WHERE l.id IN (SELECT lead_id FROM replayed)
        )
        """;

    private const string ReplayAnswer = $"""
        SELECT l.lead_id, count(*) OVER ()
        FROM replayed r JOIN hermes_leads l ON l.id = r.lead_id
        ORDER BY r.id
        LIMIT {MaxListedText}
        """;

    // The replay with its audit entry (AuditTrail) in the same statement: the leads it requeued (the first
    // AuditTrail.MaxLeadIds of them by id), how many, and how many rows; a replay that matched nothing is recorded too.
    private const string AuditedReplaySql = ReplayCtes + $"""
        , audited AS (
            INSERT INTO hermes_audit (actor, action, outcome, lead_ids, lead_count, detail)
            SELECT @actor, 'replay', 'succeeded',
                coalesce((SELECT array_agg(lead_id) FROM (
                    SELECT l.lead_id FROM hermes_leads l WHERE l.id IN (SELECT lead_id FROM replayed) ORDER BY l.id LIMIT {AuditTrail.MaxLeadIdsText}) firsts), ARRAY[]::text[]),
                (SELECT count(DISTINCT lead_id) FROM replayed),
                @detail || jsonb_build_object('rows', (SELECT count(*) FROM replayed))
        )
        """ + ReplayAnswer;

    // The chosen rows are gathered first (through the status's index), then counted and listed: with ORDER BY id LIMIT
    // on the join itself, the planner walked the whole outbox in id order to find them (275 ms with 100,000 rows,
    // bench/console), not seeing that the count over all of them needs every row anyway. It locks nothing.
    public const string DryRunSql = $"""
        WITH chosen AS MATERIALIZED (
            SELECT o.id, o.lead_id FROM hermes_outbox o
            WHERE {RowSelection}
              AND o.lead_id IN (SELECT l.id FROM hermes_leads l WHERE {LeadSelection})
        )
        SELECT l.lead_id, (SELECT count(*) FROM chosen)
        FROM chosen c JOIN hermes_leads l ON l.id = c.lead_id
        ORDER BY c.id
        LIMIT {MaxListedText}
        """;

    private const string MaxListedText = "100";

    // The dry run is what the console's preview runs on every view. Prepared (Npgsql's auto-prepare), a statement with
    // "status = $1" gets a generic plan after five runs, which cannot know that failed rows are few and reads the
    // whole outbox (430 ms with 100,000 rows, bench/console); one statement per status, with the status written in,
    // keeps the status's index. The statuses are this class's fixed set, never input.
    private static readonly FrozenDictionary<string, string> DryRunByStatus =
        ReplayRequest.ReplayableStatuses.ToFrozenDictionary(static status => status, static status => DryRunSql.Replace("o.status = @status", $"o.status = '{status}'", StringComparison.Ordinal), StringComparer.Ordinal);

    /// <summary>
    /// Runs the replay, or its dry run. With an <paramref name="actor"/> (every operator path passes one; the console's
    /// preview does not), the audit entry is appended: in the replay's own statement, or after a dry run, which changes nothing.
    /// </summary>
    public async Task<ReplayResult> ReplayAsync(ReplayRequest request, CancellationToken cancellationToken, AuditActor? actor = null)
    {
        var errors = request.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors.Select(static e => $"{e.Key}: {string.Join(" ", e.Value)}")), nameof(request));
        }

        var audited = actor is not null && !request.DryRun;
        await using var command = dataSource.CreateCommand(request.DryRun ? DryRunByStatus[request.Status] : audited ? AuditedReplaySql : ReplaySql);
        var detail = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["status"] = request.Status,
            ["since"] = request.Since,
            ["until"] = request.Until,
            ["leadIdsAsked"] = request.LeadIds.Count,
        };
        if (audited)
        {
            command.Parameters.Add(new NpgsqlParameter("actor", NpgsqlDbType.Text) { Value = actor!.Value });
            command.Parameters.Add(new NpgsqlParameter("detail", NpgsqlDbType.Jsonb) { Value = AuditTrail.Json(detail) });
        }

        command.Parameters.Add(new NpgsqlParameter("status", NpgsqlDbType.Varchar) { Value = request.Status });
        command.Parameters.Add(new NpgsqlParameter("lead_ids", NpgsqlDbType.Array | NpgsqlDbType.Varchar) { Value = request.LeadIds.Distinct(StringComparer.Ordinal).ToArray() });
        command.Parameters.Add(new NpgsqlParameter("since", NpgsqlDbType.TimestampTz) { Value = (object?)request.Since?.ToUniversalTime() ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter("until", NpgsqlDbType.TimestampTz) { Value = (object?)request.Until?.ToUniversalTime() ?? DBNull.Value });

        var leads = new List<string>();
        long count = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            leads.Add(reader.GetString(0));
            count = reader.GetInt64(1);
        }

        if (actor is not null && request.DryRun)
        {
            await reader.DisposeAsync();
            detail["rows"] = count;
            await new AuditTrail(dataSource).AppendAsync(actor, AuditAction.ReplayDryRun, [.. leads.Distinct(StringComparer.Ordinal)], detail, cancellationToken);
        }

        return new ReplayResult(request.DryRun, request.Status, count, leads);
    }
}
