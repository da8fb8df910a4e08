using Hermes.Domain;

namespace Hermes.Persistence.Outbox;

/// <summary>
/// The one spelling of "queue a lead's <c>lead.erased</c> message" (<see cref="ErasurePayload"/>'s shape), used by the
/// erase (<c>LeadErasure</c>) and by the outcome writer when an erased lead's late contact id arrives
/// (<see cref="OutboxStore"/>): an INSERT of one pending outbox row per row <c>e</c> of <c>source</c> (a relation with
/// the lead's <c>id</c>, <c>lead_id</c>, <c>brevo_contact_id</c> and <c>erased_at</c>) that meets <c>condition</c>. The payload holds ids and a time only; the
/// insert trigger wakes the workers when the transaction commits.
/// </summary>
internal static class ErasureMessages
{
    public static string InsertFrom(string source, string condition) => $"""
        INSERT INTO hermes_outbox (lead_id, type, payload, status, available_at)
        SELECT e.id, '{OutboxMessage.LeadErasedType}',
               jsonb_build_object(
                   'type', '{OutboxMessage.LeadErasedType}', 'version', {ErasurePayload.CurrentVersion},
                   'id', '{WebhookIds.MessagePrefix}' || e.lead_id || '{WebhookIds.ErasureSuffix}',
                   'leadId', e.lead_id, 'backupId', e.id, 'brevoContactId', e.brevo_contact_id, 'erasedAt', e.erased_at),
               '{OutboxStatusNames.Pending}', now()
        FROM {source} e
        WHERE {condition}
        """;
}
