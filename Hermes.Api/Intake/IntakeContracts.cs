using System.Text.Json;
using System.Text.Json.Serialization;
using Hermes.Domain;

namespace Hermes.Api.Intake;

/// <summary>The answer to <c>POST /api/leads</c>: the lead is stored and its delivery to n8n is queued.</summary>
/// <param name="Success">Always true (errors are problem details).</param>
/// <param name="LeadId">The public lead id, e.g. <c>lead_01hx…</c>.</param>
/// <param name="BackupId">The incremental id (<c>hermes_leads.id</c>) to link the Brevo contact with.</param>
/// <param name="Status">Always <c>queued</c>: stored and waiting for delivery.</param>
/// <param name="Timestamp">When the lead was stored (the database's clock).</param>
public sealed record LeadAccepted(bool Success, string LeadId, long BackupId, string Status, DateTimeOffset Timestamp)
{
    public const string QueuedStatus = LeadStatusNames.Queued;

    internal static LeadAccepted From(LeadReceipt receipt) => new(true, receipt.LeadId, receipt.BackupId, QueuedStatus, receipt.CreatedAt);
}

/// <summary>The seed's <c>BackupLeadRequest</c>: the form plus what the website knew about the visit.</summary>
public sealed record BackupLeadRequest(LeadForm? FormData, BackupLeadMetadata? Metadata);

/// <summary>
/// The seed's metadata. Only <see cref="CaptchaToken"/> is used, and <see cref="UserAgent"/> when the request has
/// no <c>User-Agent</c> header: a client cannot choose the address or time Hermes records.
/// </summary>
public sealed record BackupLeadMetadata(string? UserAgent, string? IpAddress, string? Timestamp, string? CaptchaToken);

/// <summary>
/// The seed's <c>BackupLeadResponse</c>. <c>n8nResponse</c> is never present: delivery to n8n now happens after the
/// answer, from the outbox.
/// </summary>
public sealed record BackupLeadResponse(bool Success, string LeadId, long BackupId, DateTimeOffset Timestamp)
{
    internal static BackupLeadResponse From(LeadReceipt receipt) => new(true, receipt.LeadId, receipt.BackupId, receipt.CreatedAt);
}

/// <summary>What a stored lead is known by; the same for the first answer and for an idempotent replay.</summary>
internal sealed record LeadReceipt(string LeadId, long BackupId, DateTimeOffset CreatedAt);

/// <summary>The verify endpoint's answer (Turnstile, hCaptcha and reCAPTCHA share these two fields).</summary>
internal sealed record CaptchaAnswer(bool Success, [property: JsonPropertyName("error-codes")] string[]? ErrorCodes);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, AllowTrailingCommas = false, ReadCommentHandling = JsonCommentHandling.Disallow)]
[JsonSerializable(typeof(LeadForm))]
[JsonSerializable(typeof(BackupLeadRequest))]
[JsonSerializable(typeof(LeadAccepted))]
[JsonSerializable(typeof(BackupLeadResponse))]
[JsonSerializable(typeof(CaptchaAnswer))]
internal sealed partial class IntakeJsonContext : JsonSerializerContext;
