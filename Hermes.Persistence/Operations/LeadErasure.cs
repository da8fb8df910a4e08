using System.Diagnostics.CodeAnalysis;
using Hermes.Domain;
using Hermes.Persistence.Outbox;
using Npgsql;
using NpgsqlTypes;

namespace Hermes.Persistence.Operations;

/// <summary>Whose data to erase: exactly one of an email address (every lead with it, ignoring case) or a public lead id.</summary>
public sealed record ErasureRequest(string? Email, string? LeadId)
{
    public IReadOnlyDictionary<string, string[]> Validate() =>
        string.IsNullOrWhiteSpace(Email) == string.IsNullOrWhiteSpace(LeadId)
            ? new Dictionary<string, string[]>(StringComparer.Ordinal) { [""] = ["Give exactly one of an email address or a lead id."] }
            : new Dictionary<string, string[]>(StringComparer.Ordinal);
}

/// <summary>
/// One erased lead. <see cref="BrevoContactId"/> is kept (it is an id, not personal data): the erase queued a
/// <c>lead.erased</c> message that has n8n delete that contact in Brevo (<see cref="CrmErasure"/> says where that
/// stands, as <see cref="CrmErasureStateNames"/> spells it). <see cref="InFlightDeliveries"/> counts the cancelled deliveries that a worker had already claimed: their
/// POST may still reach n8n and Brevo; when it succeeds, the worker records the contact id on the erased lead and
/// queues its erasure then (<see cref="CrmErasureState.AwaitingDelivery"/>).
/// </summary>
public sealed record ErasedLead(
    long BackupId, string LeadId, string? BrevoContactId, bool AlreadyErased, int CancelledDeliveries, DateTimeOffset ErasedAt, int InFlightDeliveries = 0,
    string? CrmErasure = null);

/// <summary>The leads found; none means the request matched no lead, which is refused.</summary>
public sealed record ErasureResult(IReadOnlyList<ErasedLead> Leads)
{
    public bool Found => Leads.Count > 0;
}

/// <summary>
/// GDPR erasure. Anonymises a lead's personal data — names, email, phone, problem description, company, user agent,
/// IP address, captcha token, n8n's answer, notes, AI analysis, the request hash — in <c>hermes_leads</c>, in its
/// frozen outbox payloads and in its attempt logs (errors and response excerpts may echo the data); cancels its
/// pending deliveries; keeps the rows and their ids for integrity; sets <c>status</c> to <see cref="LeadStatus.Erased"/> and
/// <c>erased_at</c>, and queues the erasure of the lead's Brevo contact (<c>crm_erasure_state</c>, a <c>lead.erased</c>
/// outbox row). Non-identifying fields (country, role, company size, urgency, consents, timestamps) stay for
/// statistics. One transaction: either everything about the lead is erased and its CRM erasure queued, or nothing is.
/// </summary>
public sealed class LeadErasure(NpgsqlDataSource dataSource)
{
    public const string ErasedText = "[erased]";
    public const string ErasedEmail = "erased@erased.invalid";

    private const string FindByLeadIdSql = """
        SELECT id, lead_id, brevo_contact_id, erased_at, crm_erasure_state FROM hermes_leads WHERE lead_id = @value ORDER BY id FOR UPDATE
        """;

    private const string FindByEmailSql = """
        SELECT id, lead_id, brevo_contact_id, erased_at, crm_erasure_state FROM hermes_leads WHERE lower(email) = lower(@value) ORDER BY id FOR UPDATE
        """;

    // A row claimed and not yet answered (a worker's lease still running) is in flight: reported, since its POST may
    // still reach Brevo. Its outcome statement waits for this transaction (it locks the lead first, as this does).
    private const string CancelSql = $"""
        WITH c AS (
            SELECT id, lead_id, locked_by IS NOT NULL AND available_at > now() AS in_flight
            FROM hermes_outbox
            WHERE lead_id = ANY(@ids) AND status = '{OutboxStatusNames.Pending}'
            ORDER BY id
            FOR UPDATE
        )
        UPDATE hermes_outbox o SET status = '{OutboxStatusNames.Cancelled}', locked_by = NULL
        FROM c
        WHERE o.id = c.id
        RETURNING c.lead_id, c.in_flight
        """;

    private const string AnonymiseOutboxSql = $$"""
        UPDATE hermes_outbox SET
            last_error = NULL,
            payload = jsonb_set(
                jsonb_set(payload, '{lead}', coalesce(payload->'lead', '{}'::jsonb) || jsonb_build_object(
                    'firstName', '{{ErasedText}}', 'lastName', '{{ErasedText}}', 'email', '{{ErasedEmail}}',
                    'phoneNumber', '{{ErasedText}}', 'problemDescription', '{{ErasedText}}', 'companyName', NULL)),
                '{metadata}', coalesce(payload->'metadata', '{}'::jsonb) || jsonb_build_object('userAgent', NULL, 'ipAddress', NULL))
        WHERE lead_id = ANY(@ids)
        """;

    private const string AnonymiseAttemptsSql = """
        UPDATE hermes_delivery_attempts SET error = NULL, response_excerpt = NULL WHERE lead_id = ANY(@ids)
        """;

    // The lead's CRM erasure is decided and queued in the statement that erases the lead: with a Brevo contact id, a
    // lead.erased message (ErasureMessages); with a delivery in flight, none yet (the outcome writer queues it when the
    // late contact id arrives); a canary without an id was answered without Brevo (the workflow's canary branch), so
    // there is nothing to erase; delivered without an id, nothing Hermes could name; otherwise it never reached Brevo.
    // The outbox row is new: it takes no lock on an existing row, so the lock order (leads, then outbox rows) holds.
    private static readonly string AnonymiseLeadSql = $"""
        WITH l AS (
            UPDATE hermes_leads SET
                first_name = '{ErasedText}', last_name = '{ErasedText}', email = '{ErasedEmail}',
                phone_number = '{ErasedText}', problem_description = '{ErasedText}', company_name = NULL,
                user_agent = NULL, ip_address = NULL, captcha_token = NULL, n8n_response_data = NULL,
                n8n_error_message = NULL, notes = NULL, ai_analysis = NULL, request_hash = NULL,
                status = '{LeadStatusNames.Erased}', erased_at = now(),
                crm_erasure_state = CASE
                    WHEN brevo_contact_id IS NOT NULL THEN '{CrmErasureStateNames.Queued}'
                    WHEN id = ANY(@in_flight) THEN '{CrmErasureStateNames.AwaitingDelivery}'
                    WHEN is_canary THEN '{CrmErasureStateNames.NotNeeded}'
                    WHEN n8n_success THEN '{CrmErasureStateNames.NoContactId}'
                    ELSE '{CrmErasureStateNames.NotNeeded}' END
            WHERE id = ANY(@ids)
            RETURNING id, lead_id, brevo_contact_id, erased_at, crm_erasure_state
        ),
        m AS (
            {ErasureMessages.InsertFrom("l", $"e.crm_erasure_state = '{CrmErasureStateNames.Queued}'")}
        )
        SELECT id, erased_at, crm_erasure_state FROM l
        """;

    /// <summary>
    /// Erases the matching leads. With an <paramref name="actor"/> (every host passes one), the audit entry is appended in
    /// the same transaction: the erased leads' ids, "by email" or "by lead id" (never the address), or "refused" when
    /// nothing matched.
    /// </summary>
    public async Task<ErasureResult> EraseAsync(ErasureRequest request, CancellationToken cancellationToken, AuditActor? actor = null)
    {
        var errors = request.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(errors.First().Value[0], nameof(request));
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        var byEmail = !string.IsNullOrWhiteSpace(request.Email);
        var found = new List<(long Id, string LeadId, string? BrevoContactId, DateTimeOffset? ErasedAt, CrmErasureState? Crm)>();
        await using (var find = Command(byEmail ? FindByEmailSql : FindByLeadIdSql, connection, transaction))
        {
            find.Parameters.Add(new NpgsqlParameter("value", NpgsqlDbType.Varchar) { Value = (byEmail ? request.Email : request.LeadId)!.Trim() });
            await using var reader = await find.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                found.Add((reader.GetInt64(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2),
                    reader.IsDBNull(3) ? null : reader.GetFieldValue<DateTimeOffset>(3), reader.IsDBNull(4) ? null : CrmErasureStateNames.Parse(reader.GetString(4))));
            }
        }

        var ids = found.Where(static f => f.ErasedAt is null).Select(static f => f.Id).ToArray();
        var cancelled = new Dictionary<long, int>();
        var inFlight = new Dictionary<long, int>();
        var erasedAt = new Dictionary<long, DateTimeOffset>();
        var crm = new Dictionary<long, CrmErasureState>();
        if (ids.Length > 0)
        {
            await using (var cancel = Command(CancelSql, connection, transaction, ids))
            await using (var reader = await cancel.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    var leadId = reader.GetInt64(0);
                    cancelled[leadId] = cancelled.GetValueOrDefault(leadId) + 1;
                    if (reader.GetBoolean(1))
                    {
                        inFlight[leadId] = inFlight.GetValueOrDefault(leadId) + 1;
                    }
                }
            }

            await using (var payloads = Command(AnonymiseOutboxSql, connection, transaction, ids))
            {
                await payloads.ExecuteNonQueryAsync(cancellationToken);
            }

            await using (var attempts = Command(AnonymiseAttemptsSql, connection, transaction, ids))
            {
                await attempts.ExecuteNonQueryAsync(cancellationToken);
            }

            await using (var leads = Command(AnonymiseLeadSql, connection, transaction, ids))
            {
                leads.Parameters.Add(new NpgsqlParameter("in_flight", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = inFlight.Keys.ToArray() });
                await using var reader = await leads.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    erasedAt[reader.GetInt64(0)] = reader.GetFieldValue<DateTimeOffset>(1);
                    crm[reader.GetInt64(0)] = CrmErasureStateNames.Parse(reader.GetString(2));
                }
            }
        }

        if (actor is not null)
        {
            await AuditTrail.AppendAsync(connection, transaction, actor, AuditAction.Erase, [.. found.Select(static f => f.LeadId)],
                new()
                {
                    ["by"] = byEmail ? "email" : "leadId",
                    ["erased"] = ids.Length,
                    ["alreadyErased"] = found.Count - ids.Length,
                    ["cancelledDeliveries"] = cancelled.Values.Sum(),
                }, cancellationToken, refused: found.Count == 0);
        }

        await transaction.CommitAsync(cancellationToken);
        return new ErasureResult([.. found.Select(f => new ErasedLead(
            f.Id, f.LeadId, f.BrevoContactId, f.ErasedAt is not null, cancelled.GetValueOrDefault(f.Id), f.ErasedAt ?? erasedAt[f.Id], inFlight.GetValueOrDefault(f.Id),
            (f.ErasedAt is null ? crm[f.Id] : f.Crm)?.ToDatabase()))]);
    }

    private static NpgsqlCommand Command(string sql, NpgsqlConnection connection, NpgsqlTransaction transaction, long[] ids)
    {
        var command = Command(sql, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = ids });
        return command;
    }

    [SuppressMessage("Security", "CA2100:Review SQL queries for security vulnerabilities", Justification = "Only this class's constant statements are passed; values travel as parameters.")]
    private static NpgsqlCommand Command(string sql, NpgsqlConnection connection, NpgsqlTransaction transaction) => new(sql, connection, transaction);
}
