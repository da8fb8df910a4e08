using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Hermes.Domain;

/// <summary>
/// The body Hermes POSTs to the n8n webhook, frozen into <c>hermes_outbox.payload</c> when the lead is
/// written. Changing its shape is a contract change for the n8n workflow: raise <see cref="CurrentVersion"/>.
/// </summary>
public sealed record WebhookPayload(
    string Type,
    int Version,
    string Id,
    string LeadId,
    long BackupId,
    DateTimeOffset SubmittedAt,
    WebhookLead Lead,
    WebhookMetadata Metadata)
{
    public const int CurrentVersion = 1;

    /// <summary>
    /// A canary's synthetic lead (<see cref="Lead.IsCanary"/>): the workflow answers it without writing to the CRM. An
    /// optional field of <c>lead.submitted</c> version 1, sent only when true, so every other payload is unchanged.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Canary { get; init; }

    /// <summary>The payload for a stored lead (its <see cref="Lead.BackupId"/> and <see cref="Lead.CreatedAt"/> assigned).</summary>
    public static WebhookPayload For(Lead lead) => new(
        OutboxMessage.LeadSubmittedType,
        CurrentVersion,
        MessageIdFor(lead.LeadId),
        lead.LeadId,
        lead.BackupId,
        lead.CreatedAt ?? throw new InvalidOperationException("The lead must be stored before its payload is frozen."),
        new WebhookLead(
            lead.FirstName,
            lead.LastName,
            lead.Email,
            lead.Country,
            lead.PhoneNumber,
            lead.UserRole,
            lead.ProblemDescription,
            lead.CompanyName,
            lead.CompanySize,
            lead.ServiceUrgency,
            lead.Priority,
            lead.AgreeToTerms,
            lead.PrivacyConsent,
            lead.MarketingConsent ?? false),
        new WebhookMetadata(lead.UserAgent, lead.IpAddress?.ToString(), lead.Source))
    {
        Canary = lead.IsCanary,
    };

    /// <summary>The message id (see <see cref="WebhookIds"/>).</summary>
    public static string MessageIdFor(string leadId) => WebhookIds.MessageIdFor(leadId);

    public string ToJson() => JsonSerializer.Serialize(this, WebhookPayloadJsonContext.Default.WebhookPayload);

    public static WebhookPayload FromJson(string json) =>
        JsonSerializer.Deserialize(json, WebhookPayloadJsonContext.Default.WebhookPayload)
        ?? throw new JsonException("The payload is null.");

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Type} v{Version} {Id}");
}

/// <summary>The form fields as n8n receives them.</summary>
public sealed record WebhookLead(
    string FirstName,
    string LastName,
    string Email,
    string Country,
    string PhoneNumber,
    string? UserRole,
    string ProblemDescription,
    string? CompanyName,
    string? CompanySize,
    string ServiceUrgency,
    string? Priority,
    bool AgreeToTerms,
    bool PrivacyConsent,
    bool MarketingConsent);

public sealed record WebhookMetadata(string? UserAgent, string? IpAddress, string Source);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(WebhookPayload))]
internal sealed partial class WebhookPayloadJsonContext : JsonSerializerContext;
