namespace Hermes.Domain;

/// <summary>
/// The states Hermes gives a lead, written to <c>hermes_leads.status</c> as <see cref="LeadStatusNames"/> spells them.
/// The column stays free text (the seed's <c>VARCHAR(50)</c>) because people working the CRM may set their own
/// workflow states, so <see cref="Lead.Status"/> holds the column's text and these are the values Hermes writes.
/// </summary>
public enum LeadStatus
{
    /// <summary>The seed's default, for rows written by something other than Hermes.</summary>
    New,

    /// <summary>Stored and waiting for delivery to n8n.</summary>
    Queued,

    /// <summary>n8n accepted the lead (2xx).</summary>
    Forwarded,

    /// <summary>Delivery gave up after the last attempt, or n8n answered 410 Gone.</summary>
    DeliveryFailed,

    /// <summary>Personal data was erased on request (GDPR); the row and its ids remain.</summary>
    Erased,
}

/// <summary>The states of an outbox row (<c>hermes_outbox.status</c>). See docs/architecture.md, "Outbox state machine".</summary>
public enum OutboxStatus
{
    /// <summary>Waiting, retrying, or leased by a worker (then <see cref="OutboxMessage.AvailableAt"/> is the lease end).</summary>
    Pending,

    /// <summary>n8n answered 2xx.</summary>
    Delivered,

    /// <summary>Gave up: the last attempt failed, or n8n answered 410 Gone. An operator may replay it.</summary>
    Failed,

    /// <summary>Will not be sent, for example because the lead was erased.</summary>
    Cancelled,
}

/// <summary>
/// <see cref="LeadStatus"/> as the database spells it: the one mapping. The constants exist so that SQL text can
/// render them as literals (<c>$"… status = '{LeadStatusNames.Queued}' …"</c>); C# code uses the enum.
/// </summary>
public static class LeadStatusNames
{
    public const string New = "new";
    public const string Queued = "queued";
    public const string Forwarded = "forwarded";
    public const string DeliveryFailed = "delivery_failed";
    public const string Erased = "erased";

    public static string ToDatabase(this LeadStatus status) => status switch
    {
        LeadStatus.New => New,
        LeadStatus.Queued => Queued,
        LeadStatus.Forwarded => Forwarded,
        LeadStatus.DeliveryFailed => DeliveryFailed,
        LeadStatus.Erased => Erased,
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    /// <summary>The Hermes state a column value names, or false for a state of someone else's (or none).</summary>
    public static bool TryParse(string? value, out LeadStatus status)
    {
        switch (value)
        {
            case New: status = LeadStatus.New; return true;
            case Queued: status = LeadStatus.Queued; return true;
            case Forwarded: status = LeadStatus.Forwarded; return true;
            case DeliveryFailed: status = LeadStatus.DeliveryFailed; return true;
            case Erased: status = LeadStatus.Erased; return true;
            default: status = default; return false;
        }
    }
}

/// <summary>
/// <see cref="OutboxStatus"/> as the database spells it: the one mapping, used by the EF value converter of
/// <see cref="OutboxMessage.Status"/>, and by SQL text through the constants (the column's check constraint lists
/// the same four).
/// </summary>
public static class OutboxStatusNames
{
    public const string Pending = "pending";
    public const string Delivered = "delivered";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static string ToDatabase(this OutboxStatus status) => status switch
    {
        OutboxStatus.Pending => Pending,
        OutboxStatus.Delivered => Delivered,
        OutboxStatus.Failed => Failed,
        OutboxStatus.Cancelled => Cancelled,
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    public static OutboxStatus Parse(string value) =>
        TryParse(value, out var status) ? status : throw new ArgumentOutOfRangeException(nameof(value), value, "Unknown outbox status.");

    public static bool TryParse(string? value, out OutboxStatus status)
    {
        switch (value)
        {
            case Pending: status = OutboxStatus.Pending; return true;
            case Delivered: status = OutboxStatus.Delivered; return true;
            case Failed: status = OutboxStatus.Failed; return true;
            case Cancelled: status = OutboxStatus.Cancelled; return true;
            default: status = default; return false;
        }
    }
}

/// <summary>
/// The outcome of one attempt (<c>hermes_delivery_attempts.outcome</c>). A final outcome is also the outbox row's
/// new state, spelled the same way; a retry leaves the row pending.
/// </summary>
public static class DeliveryOutcomes
{
    public const string Delivered = OutboxStatusNames.Delivered;
    public const string Retry = "retry";
    public const string Failed = OutboxStatusNames.Failed;
}

/// <summary>
/// Where the erasure of a lead stands in the CRM (<c>hermes_leads.crm_erasure_state</c>; null until the lead is erased).
/// An erase in Hermes queues a <c>lead.erased</c> message to n8n, which deletes the Brevo contact and answers
/// <c>{"erased": true}</c>; see docs/operating.md, "Erase (GDPR)".
/// </summary>
public enum CrmErasureState
{
    /// <summary>The lead never reached Brevo (no delivery succeeded, none in flight): nothing to erase there.</summary>
    NotNeeded,

    /// <summary>A delivery was in flight when the lead was erased: the erasure is queued when its contact id arrives.</summary>
    AwaitingDelivery,

    /// <summary>A <c>lead.erased</c> message waits for (or is in) delivery.</summary>
    Queued,

    /// <summary>n8n answered <c>"erased": true</c>: the contact is gone from Brevo (deleted, or already gone).</summary>
    Confirmed,

    /// <summary>The <c>lead.erased</c> message gave up (its last attempt failed); <c>doctor</c> lists it (docs/operating.md).</summary>
    Failed,

    /// <summary>The lead reached n8n but no Brevo contact id came back: Hermes has no id to erase.</summary>
    NoContactId,
}

/// <summary><see cref="CrmErasureState"/> as the database spells it: the one mapping (the column's check constraint lists the same six).</summary>
public static class CrmErasureStateNames
{
    public const string NotNeeded = "not_needed";
    public const string AwaitingDelivery = "awaiting_delivery";
    public const string Queued = "queued";
    public const string Confirmed = "confirmed";
    public const string Failed = "failed";
    public const string NoContactId = "no_contact_id";

    /// <summary>Every value, for the check constraint.</summary>
    public static readonly string[] All = [NotNeeded, AwaitingDelivery, Queued, Confirmed, Failed, NoContactId];

    public static string ToDatabase(this CrmErasureState state) => state switch
    {
        CrmErasureState.NotNeeded => NotNeeded,
        CrmErasureState.AwaitingDelivery => AwaitingDelivery,
        CrmErasureState.Queued => Queued,
        CrmErasureState.Confirmed => Confirmed,
        CrmErasureState.Failed => Failed,
        CrmErasureState.NoContactId => NoContactId,
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, null),
    };

    public static CrmErasureState Parse(string value) => value switch
    {
        NotNeeded => CrmErasureState.NotNeeded,
        AwaitingDelivery => CrmErasureState.AwaitingDelivery,
        Queued => CrmErasureState.Queued,
        Confirmed => CrmErasureState.Confirmed,
        Failed => CrmErasureState.Failed,
        NoContactId => CrmErasureState.NoContactId,
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "Unknown CRM erasure state."),
    };
}
