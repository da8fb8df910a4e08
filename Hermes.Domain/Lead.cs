using System.Net;

namespace Hermes.Domain;

/// <summary>
/// One contact-form lead: every column of the seed's <c>hermes_leads</c> table, plus the columns
/// Hermes adds for safe client retries and GDPR erasure. Leads are never deleted; they are the backup.
/// </summary>
public sealed class Lead
{
    /// <summary>
    /// The lead's row id (<c>hermes_leads.id</c>, the seed's SERIAL widened to bigint): the "backupId" users link Brevo
    /// with. Every type that points at a lead calls it <c>BackupId</c> (docs/architecture.md, "Names").
    /// </summary>
    public long BackupId { get; set; }

    /// <summary>The public, unguessable lead identifier (at most 50 characters).</summary>
    public required string LeadId { get; set; }

    public string? BrevoContactId { get; set; }

    // Form data.
    public required string FirstName { get; set; }
    public required string LastName { get; set; }
    public required string Email { get; set; }
    public required string Country { get; set; }
    public required string PhoneNumber { get; set; }
    public string? UserRole { get; set; }
    public required string ProblemDescription { get; set; }
    public string? CompanyName { get; set; }
    public string? CompanySize { get; set; }
    public string ServiceUrgency { get; set; } = ServiceUrgencies.Default;
    public bool AgreeToTerms { get; set; }
    public bool PrivacyConsent { get; set; }
    public bool? MarketingConsent { get; set; }

    // Metadata.
    public string? CaptchaToken { get; set; }
    public string? UserAgent { get; set; }
    public IPAddress? IpAddress { get; set; }
    public string Source { get; set; } = LeadSubmission.DefaultSource;

    // Processing tracking (written by the outbox worker).
    public DateTimeOffset? CreatedAt { get; set; }
    public DateTimeOffset? N8nWebhookSentAt { get; set; }
    public DateTimeOffset? N8nResponseReceivedAt { get; set; }
    public string? N8nResponseData { get; set; }
    public bool? N8nSuccess { get; set; }
    public string? N8nErrorMessage { get; set; }

    // Status and workflow: free text, of which Hermes writes the values of LeadStatus (LeadStatusNames).
    public string? Status { get; set; }
    public DateTimeOffset? ProcessedAt { get; set; }
    public string? AssignedTo { get; set; }
    public string? Notes { get; set; }

    // Lead scoring and analysis.
    public int? LeadScore { get; set; }
    public string? Priority { get; set; }
    public string[]? Tags { get; set; }
    public string? AiAnalysis { get; set; }
    public decimal? EstimatedValue { get; set; }

    // Hermes additions.
    public string? IdempotencyKey { get; set; }
    public string? RequestHash { get; set; }
    public DateTimeOffset? ErasedAt { get; set; }

    /// <summary>Where the erasure stands in the CRM (null until the lead is erased); see <see cref="CrmErasureState"/>.</summary>
    public CrmErasureState? CrmErasure { get; set; }

    /// <summary>When n8n confirmed that the Brevo contact is gone (<see cref="CrmErasureState.Confirmed"/>).</summary>
    public DateTimeOffset? CrmErasedAt { get; set; }

    /// <summary>
    /// A synthetic lead the canary sent to prove the path (docs/monitoring.md, "The canary"); set by the API only for a
    /// submission that carries the canary secret. Left out of every lead count, list and statistic.
    /// </summary>
    public bool IsCanary { get; set; }

    /// <summary>Builds a new lead from a validated submission; the database assigns <see cref="BackupId"/> and <see cref="CreatedAt"/>.</summary>
    public static Lead FromSubmission(LeadSubmission submission, string leadId) => new()
    {
        LeadId = leadId,
        FirstName = submission.FirstName,
        LastName = submission.LastName,
        Email = submission.Email,
        Country = submission.Country,
        PhoneNumber = submission.PhoneNumber,
        UserRole = submission.UserRole,
        ProblemDescription = submission.ProblemDescription,
        CompanyName = submission.CompanyName,
        CompanySize = submission.CompanySize,
        ServiceUrgency = submission.ServiceUrgency,
        AgreeToTerms = submission.AgreeToTerms,
        PrivacyConsent = submission.PrivacyConsent,
        MarketingConsent = submission.MarketingConsent,
        CaptchaToken = submission.CaptchaToken,
        UserAgent = submission.UserAgent,
        IpAddress = submission.IpAddress,
        Source = submission.Source,
        Status = LeadStatus.Queued.ToDatabase(),
        N8nSuccess = false,
        LeadScore = 0,
        Priority = ServiceUrgencies.PriorityFor(submission.ServiceUrgency),
    };
}
