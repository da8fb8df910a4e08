using System.Text.Json;
using System.Text.Json.Serialization;

namespace Hermes.Domain;

/// <summary>
/// The body of a <c>lead.erased</c> message (webhook contract 2, docs/outbox-worker.md, "Webhook contract"): which
/// Brevo contact to delete, for which lead, and when the lead was erased in Hermes. No personal data. It is frozen
/// into <c>hermes_outbox.payload</c> by SQL in the statement that queues it (the erase, or the outcome writer when an
/// erased lead's late contact id arrives), spelled once in <c>Hermes.Persistence/Outbox/ErasureMessages.cs</c>; this
/// record is its shape for readers.
/// </summary>
public sealed record ErasurePayload(
    string Type,
    int Version,
    string Id,
    string LeadId,
    long BackupId,
    string BrevoContactId,
    DateTimeOffset ErasedAt)
{
    public const int CurrentVersion = 1;

    public static ErasurePayload FromJson(string json) =>
        JsonSerializer.Deserialize(json, ErasurePayloadJsonContext.Default.ErasurePayload)
        ?? throw new JsonException("The payload is null.");
}

/// <summary>The webhook contract's version: 2 added <c>lead.erased</c> and the rule that a receiver refuses an event type it does not know.</summary>
public static class WebhookContract
{
    public const int Version = 2;
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(ErasurePayload))]
internal sealed partial class ErasurePayloadJsonContext : JsonSerializerContext;
