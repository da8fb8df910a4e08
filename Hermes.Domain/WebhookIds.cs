namespace Hermes.Domain;

/// <summary>
/// The one rule for message ids (docs/outbox-worker.md, "Webhook contract"). A lead's frozen payload carries
/// <c>id = msg_&lt;leadId&gt;</c>; the Standard Webhooks <c>webhook-id</c> header is that id for the first delivery
/// and all its retries, and <c>msg_&lt;leadId&gt;_r&lt;N&gt;</c> for the N-th operator replay — a new message for the
/// receiver's deduplication, which still belongs to the signed payload's id.
/// </summary>
public static class WebhookIds
{
    /// <summary>What every message id starts with; also the claim statement's fallback for a payload without an id.</summary>
    public const string MessagePrefix = "msg_";

    /// <summary>Between a message id and its replay number.</summary>
    public const string ReplaySeparator = "_r";

    /// <summary>What an erasure message's id ends with, after the lead's message id.</summary>
    public const string ErasureSuffix = "_erased";

    /// <summary>The payload's <c>id</c>: <c>msg_&lt;leadId&gt;</c>.</summary>
    public static string MessageIdFor(string leadId) => MessagePrefix + leadId;

    /// <summary>
    /// The <c>lead.erased</c> payload's <c>id</c>: <c>msg_&lt;leadId&gt;_erased</c>, a message of its own for the receiver's
    /// deduplication (the erasure SQL spells the same rule, see <c>LeadErasure</c>).
    /// </summary>
    public static string ErasureMessageIdFor(string leadId) => MessagePrefix + leadId + ErasureSuffix;

    /// <summary>The <c>webhook-id</c> of a delivery: the message id, with <c>_r&lt;N&gt;</c> after the N-th replay.</summary>
    public static string WebhookIdFor(string messageId, int replayCount) =>
        replayCount > 0 ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{messageId}{ReplaySeparator}{replayCount}") : messageId;
}
