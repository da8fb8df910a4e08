using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using Hermes.Domain;
using Npgsql;
using NpgsqlTypes;

namespace Hermes.Persistence.Operations;

/// <summary>The doctor's thresholds.</summary>
public sealed record DoctorSettings
{
    /// <summary>A pending row older than this means deliveries are not happening.</summary>
    public TimeSpan PendingOlderThan { get; init; } = TimeSpan.FromHours(1);

    /// <summary>A lease that ended longer ago than this and was not taken over means no worker is claiming.</summary>
    public TimeSpan LeaseGrace { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>An erasure the CRM has not confirmed this long after the lead was erased needs an operator.</summary>
    public TimeSpan ErasuresUnconfirmedAfter { get; init; } = TimeSpan.FromHours(24);

    /// <summary>A transaction (or prepared transaction) holding back the xmin horizon longer than this is named.</summary>
    public TimeSpan XminHorizonOlderThan { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>A hot table with more dead tuples than this share of its rows (and at least <see cref="DeadTupleMinimum"/>) is named.</summary>
    public double DeadTupleRatio { get; init; } = 0.2;

    /// <summary>Fewer dead tuples than this are never worth a warning, whatever the ratio.</summary>
    public long DeadTupleMinimum { get; init; } = 10_000;

    /// <summary>Indexes smaller than this (pages of 8 kB) are never worth a bloat warning.</summary>
    public int IndexBloatMinimumPages { get; init; } = 128;

    /// <summary>The attempt log's days must exist this far ahead (the worker keeps a week).</summary>
    public TimeSpan PartitionsAhead { get; init; } = TimeSpan.FromDays(2);
}

/// <summary>One check: <c>ok</c> or <c>problem</c>, how many rows are concerned, and a few examples (lead ids, plan nodes).</summary>
public sealed record DoctorFinding(string Check, string Severity, long Count, string Summary, IReadOnlyList<string> Examples)
{
    public const string Ok = "ok";
    public const string Problem = "problem";

    /// <summary>Not wrong yet, but heading there (the queue's vacuum health): printed, without failing <c>doctor</c>.</summary>
    public const string Warning = "warning";

    public bool IsProblem => Severity == Problem;
}

public sealed record DoctorReport(bool Healthy, IReadOnlyList<DoctorFinding> Findings);

/// <summary>
/// Integrity and health checks over the three tables: the seed's checks (duplicate lead ids, missing required
/// fields) and the outbox's (leads without an outbox row, rows without a lead, stale pending rows, failed rows,
/// expired leases), pending migrations, and the plans of the hot queries. Reads only; changes nothing.
/// </summary>
public sealed class IntegrityDoctor(NpgsqlDataSource dataSource)
{
    private const int Examples = 5;

    /// <summary>
    /// The dispatcher's own claim statement (<see cref="Outbox.OutboxStore.ClaimSql"/>) with sample values. EXPLAIN
    /// without ANALYZE plans the statement and does not run it.
    /// </summary>
    private const string ExplainClaimSql = "EXPLAIN (FORMAT JSON) " + Outbox.OutboxStore.ClaimSql;

    private static readonly Action<NpgsqlParameterCollection> ClaimSample = static parameters =>
        Outbox.OutboxStore.AddClaimParameters(parameters, 32, TimeSpan.FromSeconds(30), "hermes-doctor", null);

    /// <summary>
    /// The claim from a scan floor (<see cref="Outbox.OutboxStore.ClaimFromSql"/>), the claim every backlog is drained
    /// with. Its plan must not only use the pending index but start the scan at the floor: the row comparison has to be
    /// the index scan's condition, or each claim reads the index from the top through every dead entry a held horizon
    /// keeps, which is what the floor is there to avoid.
    /// </summary>
    private static readonly string ExplainFlooredClaimSql = "EXPLAIN (FORMAT JSON) " + Outbox.OutboxStore.ClaimFromSql;

    private static readonly Action<NpgsqlParameterCollection> FlooredClaimSample = static parameters =>
        Outbox.OutboxStore.AddClaimParameters(parameters, 32, TimeSpan.FromSeconds(30), "hermes-doctor", new Outbox.ScanFloor(DateTime.UtcNow.AddMinutes(-1), 1));

    /// <summary>How PostgreSQL writes the floor when it bounds an index scan: <c>ROW(available_at, id) >= ROW(…)</c>.</summary>
    private const string FloorAsIndexCondition = "ROW(available_at, id) >=";

    private const string ExplainLeadLookupSql = """
        EXPLAIN (FORMAT JSON)
        SELECT * FROM hermes_leads WHERE lead_id = 'lead_0000000000000000000000000'
        """;

    public async Task<DoctorReport> ExamineAsync(DoctorSettings settings, CancellationToken cancellationToken)
    {
        var findings = new List<DoctorFinding>();
        var pending = await PendingMigrationsAsync(cancellationToken);
        findings.Add(pending.Count == 0
            ? new DoctorFinding("migrations", DoctorFinding.Ok, 0, "The schema is up to date.", [])
            : new DoctorFinding("migrations", DoctorFinding.Problem, pending.Count, "Migrations are pending: run 'migrate'. Other checks were skipped.", [.. pending]));
        if (pending.Count > 0)
        {
            return new DoctorReport(false, findings);
        }

        findings.Add(await CountAsync(
            "leads_without_outbox",
            """
            SELECT count(*), (array_agg(l.lead_id ORDER BY l.id))[1:5] FROM hermes_leads l
            WHERE l.erased_at IS NULL AND l.n8n_success IS NOT TRUE
              AND NOT EXISTS (SELECT 1 FROM hermes_outbox o WHERE o.lead_id = l.id)
            """,
            "Every undelivered lead has an outbox row.",
            "undelivered leads have no outbox row, so nothing will ever deliver them",
            cancellationToken));
        findings.Add(await CountAsync(
            "outbox_without_lead",
            """
            SELECT count(*), (array_agg(o.id::text ORDER BY o.id))[1:5] FROM hermes_outbox o
            WHERE NOT EXISTS (SELECT 1 FROM hermes_leads l WHERE l.id = o.lead_id)
            """,
            "Every outbox row belongs to a lead.",
            "outbox rows (ids shown) point to no lead",
            cancellationToken));
        findings.Add(await CountAsync(
            "attempts_without_outbox",
            """
            SELECT count(*), (array_agg(a.id::text ORDER BY a.id))[1:5] FROM hermes_delivery_attempts a
            WHERE NOT EXISTS (SELECT 1 FROM hermes_outbox o WHERE o.id = a.outbox_id)
               OR NOT EXISTS (SELECT 1 FROM hermes_leads l WHERE l.id = a.lead_id)
            """,
            "Every attempt log row belongs to an outbox row and a lead.",
            "attempt log rows (ids shown) point to no outbox row or no lead",
            cancellationToken));
        findings.Add(await CountAsync(
            "duplicate_lead_ids",
            """
            SELECT count(*), (array_agg(d.lead_id ORDER BY d.lead_id))[1:5]
            FROM (SELECT lead_id FROM hermes_leads GROUP BY lead_id HAVING count(*) > 1) d
            """,
            "Lead ids are unique.",
            "lead ids are used by more than one lead",
            cancellationToken));
        findings.Add(await CountAsync(
            "missing_required_fields",
            """
            SELECT count(*), (array_agg(coalesce(nullif(l.lead_id, ''), '#' || l.id) ORDER BY l.id))[1:5] FROM hermes_leads l
            WHERE l.erased_at IS NULL AND (
                l.created_at IS NULL OR btrim(l.lead_id) = '' OR btrim(l.first_name) = '' OR btrim(l.last_name) = ''
                OR btrim(l.email) = '' OR btrim(l.country) = '' OR btrim(l.phone_number) = ''
                OR btrim(l.problem_description) = '' OR btrim(l.source) = '')
            """,
            "Every lead has its required fields.",
            "leads lack a required field (lead id, name, email, country, phone, problem description, source or creation time)",
            cancellationToken));
        findings.Add(await CountAsync(
            "stale_pending",
            $"""
            SELECT count(*), (array_agg(l.lead_id ORDER BY o.created_at))[1:5]
            FROM hermes_outbox o JOIN hermes_leads l ON l.id = o.lead_id
            WHERE o.status = '{OutboxStatusNames.Pending}' AND o.created_at < now() - @pending_older_than
            """,
            $"No pending row is older than {OperatorTime.Format(settings.PendingOlderThan)}.",
            $"pending rows are older than {OperatorTime.Format(settings.PendingOlderThan)}: is n8n down or is no worker running?",
            cancellationToken,
            ("pending_older_than", settings.PendingOlderThan)));
        findings.Add(await CountAsync(
            "failed_deliveries",
            $"""
            SELECT count(*), (array_agg(l.lead_id ORDER BY o.id))[1:5]
            FROM hermes_outbox o JOIN hermes_leads l ON l.id = o.lead_id
            WHERE o.status = '{OutboxStatusNames.Failed}'
            """,
            "No delivery has given up.",
            "deliveries gave up: read their attempt logs, then 'replay --status failed'",
            cancellationToken));
        findings.Add(await CountAsync(
            "expired_leases",
            $"""
            SELECT count(*), (array_agg(l.lead_id ORDER BY o.available_at))[1:5]
            FROM hermes_outbox o JOIN hermes_leads l ON l.id = o.lead_id
            WHERE o.status = '{OutboxStatusNames.Pending}' AND o.locked_by IS NOT NULL AND o.available_at < now() - @lease_grace
            """,
            "No lease has expired without being taken over.",
            $"claimed rows' leases ended over {OperatorTime.Format(settings.LeaseGrace)} ago and no worker took them over: is any worker running?",
            cancellationToken,
            ("lease_grace", settings.LeaseGrace)));
        findings.Add(await CountAsync(
            "unconfirmed_erasures",
            $"""
            SELECT count(*), (array_agg(l.lead_id || ' (' || l.crm_erasure_state || ')' ORDER BY l.erased_at))[1:5]
            FROM hermes_leads l
            WHERE l.crm_erasure_state IN ('{CrmErasureStateNames.AwaitingDelivery}', '{CrmErasureStateNames.Queued}', '{CrmErasureStateNames.Failed}')
              AND l.erased_at < now() - @erasures_unconfirmed_after
            """,
            $"Every erasure older than {OperatorTime.Format(settings.ErasuresUnconfirmedAfter)} is confirmed by the CRM (or had nothing to erase there).",
            $"erased leads' Brevo contacts are not confirmed erased {OperatorTime.Format(settings.ErasuresUnconfirmedAfter)} after the erase: read their lead.erased rows (GET /api/leads/{{leadId}}), fix n8n or Brevo",
            cancellationToken,
            ("erasures_unconfirmed_after", settings.ErasuresUnconfirmedAfter)));
        findings.Add(await PlanAsync("claim_query_plan", ExplainClaimSql, "idx_hermes_outbox_pending", "hermes_outbox", cancellationToken, ClaimSample));
        findings.Add(await PlanAsync("floored_claim_query_plan", ExplainFlooredClaimSql, "idx_hermes_outbox_pending", "hermes_outbox", cancellationToken, FlooredClaimSample, FloorAsIndexCondition));
        findings.Add(await PlanAsync("lead_lookup_plan", ExplainLeadLookupSql, "idx_hermes_leads_lead_id", "hermes_leads", cancellationToken));
        findings.AddRange(await VacuumHealth.ExamineAsync(dataSource, settings, cancellationToken));
        return new DoctorReport(findings.TrueForAll(static f => !f.IsProblem), findings);
    }

    private async Task<IReadOnlyList<string>> PendingMigrationsAsync(CancellationToken cancellationToken)
    {
        await using var context = PersistenceExtensions.CreateContext(dataSource);
        return await new HermesMigrator(context).PendingAsync(cancellationToken);
    }

    private async Task<DoctorFinding> CountAsync(
        string check, string sql, string okSummary, string problemSummary, CancellationToken cancellationToken, params (string Name, TimeSpan Value)[] parameters)
    {
        await using var command = dataSource.CreateCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Interval) { Value = value });
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var count = reader.GetInt64(0);
        var examples = reader.IsDBNull(1) ? [] : reader.GetFieldValue<string[]>(1);
        return count == 0
            ? new DoctorFinding(check, DoctorFinding.Ok, 0, okSummary, [])
            : new DoctorFinding(check, DoctorFinding.Problem, count, $"{count} {problemSummary}.", examples);
    }

    /// <summary>
    /// Checks that the planner uses <paramref name="index"/> for the statement and, when <paramref name="indexCondition"/>
    /// is given, that the scan's own condition holds that text (a bound applied as a filter after the scan does not
    /// count). On a small table a sequential scan is cheaper and the planner rightly prefers it; then the plan is taken
    /// again with sequential scans discouraged, to prove the index exists and fits the query.
    /// </summary>
    private async Task<DoctorFinding> PlanAsync(string check, string explainSql, string index, string table, CancellationToken cancellationToken,
        Action<NpgsqlParameterCollection>? bind = null, string? indexCondition = null)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var plan = await ExplainAsync(connection, explainSql, bind, cancellationToken);
        var uses = indexCondition is null ? $"uses {index}" : $"starts its scan of {index} at the floor";
        if (UsesIndex(plan, index, indexCondition))
        {
            return new DoctorFinding(check, DoctorFinding.Ok, 0, $"The plan {uses}.", [Describe(plan)]);
        }

        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken))
        {
            await using (var off = new NpgsqlCommand("SET LOCAL enable_seqscan = off", connection, transaction))
            {
                await off.ExecuteNonQueryAsync(cancellationToken);
            }

            var forced = await ExplainAsync(connection, explainSql, bind, cancellationToken, transaction);
            await transaction.RollbackAsync(cancellationToken);
            if (UsesIndex(forced, index, indexCondition))
            {
                return new DoctorFinding(check, DoctorFinding.Ok, 0,
                    $"{table} is small enough that the planner prefers a sequential scan now; the plan {uses} once it grows.", [Describe(plan), Describe(forced)]);
            }

            return new DoctorFinding(check, DoctorFinding.Problem, 1,
                indexCondition is null || !UsesIndex(forced, index, null)
                    ? $"The plan does not use {index}: is the index missing or invalid? Run 'migrate'."
                    : $"The plan uses {index} but not from the floor ({indexCondition} is not its index condition): every claim in a backlog reads the index from the top. Run 'migrate'; if it persists, report the plan.",
                [Describe(forced)]);
        }
    }

    [SuppressMessage("Security", "CA2100:Review SQL queries for security vulnerabilities", Justification = "Only this class's constant EXPLAIN statements are passed.")]
    private static async Task<JsonElement> ExplainAsync(NpgsqlConnection connection, string sql, Action<NpgsqlParameterCollection>? bind, CancellationToken cancellationToken, NpgsqlTransaction? transaction = null)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        bind?.Invoke(command.Parameters);
        var json = (string)(await command.ExecuteScalarAsync(cancellationToken))!;
        using var document = JsonDocument.Parse(json);
        return document.RootElement[0].GetProperty("Plan").Clone();
    }

    private static bool UsesIndex(JsonElement node, string index, string? indexCondition) =>
        node.TryGetProperty("Index Name", out var name) && name.GetString() == index
            && (indexCondition is null || node.TryGetProperty("Index Cond", out var condition) && condition.GetString()!.Contains(indexCondition, StringComparison.Ordinal))
        || node.TryGetProperty("Plans", out var children) && children.EnumerateArray().Any(child => UsesIndex(child, index, indexCondition));

    /// <summary>The plan's nodes, children in brackets: <c>ModifyTable on hermes_outbox [Limit [LockRows [Index Scan using idx_… on hermes_outbox]], …]</c>.</summary>
    private static string Describe(JsonElement node)
    {
        var text = node.GetProperty("Node Type").GetString()!;
        if (node.TryGetProperty("Index Name", out var index))
        {
            text += $" using {index.GetString()}";
        }

        if (node.TryGetProperty("Relation Name", out var relation))
        {
            text += $" on {relation.GetString()}";
        }

        if (node.TryGetProperty("Index Cond", out var condition))
        {
            text += $" where {condition.GetString()}";
        }

        return node.TryGetProperty("Plans", out var children)
            ? $"{text} [{string.Join(", ", children.EnumerateArray().Select(Describe))}]"
            : text;
    }
}
