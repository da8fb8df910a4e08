using System.Diagnostics.CodeAnalysis;
using Hermes.Domain;
using Hermes.Persistence.Operations;
using Hermes.Persistence.Outbox;
using Npgsql;

namespace Hermes.Admin.Canary;

/// <summary>What one removal did: canary leads deleted, and earlier ones kept for a later run (and why).</summary>
public readonly record struct CanaryRemovalResult(int Removed, int KeptInFlight, int KeptForCrm);

/// <summary>
/// Keeps canaries from accumulating (docs/monitoring.md, "The canary"): after each run, every canary lead but the newest
/// is deleted with its outbox rows and attempt logs. A canary is synthetic — no person's data, never in the counts — so
/// it is deleted, not anonymised, and no audit entry is written (no operator acted; the run's log says it). The newest
/// stays: the last run's evidence for the console's <i>Canaries only</i> list, and the mark the runner's schedule reads.
/// Left for a later run: a canary whose delivery a worker has claimed and not answered yet (its outcome statement must
/// find its rows), and one that reached Brevo (an old workflow without the canary branch) until n8n confirmed the
/// contact's erasure. Never a real lead: every statement selects <c>is_canary</c>.
/// </summary>
public sealed class CanaryRemoval(NpgsqlDataSource dataSource, LeadErasure erasure)
{
    // Lock order as everywhere: leads, then their outbox rows. A lead whose outcome a worker is writing is locked by it
    // and skipped here. The newest canary is left out of the candidates.
    private static readonly string CandidatesSql = $"""
        SELECT id FROM hermes_leads
        WHERE is_canary
          AND id < (SELECT max(id) FROM hermes_leads WHERE is_canary)
          AND (brevo_contact_id IS NULL OR crm_erasure_state = '{CrmErasureStateNames.Confirmed}')
        ORDER BY id
        FOR UPDATE SKIP LOCKED
        """;

    // A claim that committed before this lock is seen here (FOR UPDATE rereads the row); one that comes after skips
    // the locked row. Either way no worker delivers a row this transaction deletes.
    private static readonly string InFlightSql = $"""
        SELECT DISTINCT lead_id FROM (
            SELECT lead_id, status = '{OutboxStatusNames.Pending}' AND locked_by IS NOT NULL AND available_at > now() AS in_flight
            FROM hermes_outbox
            WHERE lead_id = ANY(@ids)
            ORDER BY id
            FOR UPDATE
        ) o
        WHERE in_flight
        """;

    // Earlier canaries that reached Brevo and were never erased: their contact is erased through the CRM first.
    private const string ReachedBrevoSql = """
        SELECT lead_id FROM hermes_leads
        WHERE is_canary AND id < (SELECT max(id) FROM hermes_leads WHERE is_canary)
          AND brevo_contact_id IS NOT NULL AND erased_at IS NULL
        """;

    private const string CountKeptForCrmSql = """
        SELECT count(*)::int FROM hermes_leads
        WHERE is_canary AND id < (SELECT max(id) FROM hermes_leads WHERE is_canary)
          AND brevo_contact_id IS NOT NULL AND crm_erasure_state IS DISTINCT FROM 'confirmed'
        """;

    // Attempts first: they reference both the outbox row and the lead (ON DELETE RESTRICT on the lead).
    private static readonly string[] DeleteSql =
    [
        "DELETE FROM hermes_delivery_attempts WHERE lead_id = ANY(@ids)",
        "DELETE FROM hermes_outbox WHERE lead_id = ANY(@ids)",
        "DELETE FROM hermes_leads WHERE id = ANY(@ids) AND is_canary",
    ];

    public async Task<CanaryRemovalResult> RemoveEarlierAsync(CancellationToken cancellationToken)
    {
        foreach (var leadId in await ListAsync<string>(ReachedBrevoSql, null, null, cancellationToken))
        {
            await erasure.EraseAsync(new ErasureRequest(null, leadId), cancellationToken);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var candidates = await ListAsync<long>(CandidatesSql, connection, transaction, cancellationToken);
        var inFlight = candidates.Length == 0 ? [] : await ListAsync<long>(InFlightSql, connection, transaction, cancellationToken, candidates);
        var removed = candidates.Except(inFlight).ToArray();
        if (removed.Length > 0)
        {
            foreach (var sql in DeleteSql)
            {
                await using var delete = Command(sql, connection, transaction);
                delete.Parameters.AddWithValue("ids", removed);
                await delete.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        await transaction.CommitAsync(cancellationToken);
        var keptForCrm = (await ListAsync<int>(CountKeptForCrmSql, null, null, cancellationToken)).Single();
        return new CanaryRemovalResult(removed.Length, inFlight.Length, keptForCrm);
    }

    private async Task<T[]> ListAsync<T>(string sql, NpgsqlConnection? connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken, long[]? ids = null)
    {
        await using var command = connection is null ? dataSource.CreateCommand(sql) : Command(sql, connection, transaction);
        if (ids is not null)
        {
            command.Parameters.AddWithValue("ids", ids);
        }

        var values = new List<T>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            values.Add(reader.GetFieldValue<T>(0));
        }

        return [.. values];
    }

    [SuppressMessage("Security", "CA2100:Review SQL queries for security vulnerabilities", Justification = "Only this class's constant statements are passed; values travel as parameters.")]
    private static NpgsqlCommand Command(string sql, NpgsqlConnection connection, NpgsqlTransaction? transaction) => new(sql, connection, transaction);
}
