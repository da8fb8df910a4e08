using System.Net;

namespace Hermes.Domain;

/// <summary>
/// The contact form as the browser sent it: every field optional and untrusted. Field names are the
/// camelCase of the seed's columns. <see cref="LeadSubmissionValidator"/> turns it into a <see cref="LeadSubmission"/>.
/// </summary>
public sealed record LeadForm
{
    public string? FirstName { get; init; }
    public string? LastName { get; init; }
    public string? Email { get; init; }
    public string? Country { get; init; }
    public string? PhoneNumber { get; init; }
    public string? UserRole { get; init; }
    public string? ProblemDescription { get; init; }
    public string? CompanyName { get; init; }
    public string? CompanySize { get; init; }
    public string? ServiceUrgency { get; init; }
    public bool? AgreeToTerms { get; init; }
    public bool? PrivacyConsent { get; init; }
    public bool? MarketingConsent { get; init; }
    public string? CaptchaToken { get; init; }
    public string? Source { get; init; }
}

/// <summary>What Hermes learns about a submission besides the form: from the request, not the body.</summary>
public sealed record SubmissionMetadata(string? UserAgent, IPAddress? IpAddress);

/// <summary>A validated, normalised submission, ready to become a <see cref="Lead"/>.</summary>
public sealed record LeadSubmission
{
    public const string DefaultSource = "hermes-website";

    public required string FirstName { get; init; }
    public required string LastName { get; init; }
    public required string Email { get; init; }
    public required string Country { get; init; }
    public required string PhoneNumber { get; init; }
    public string? UserRole { get; init; }
    public required string ProblemDescription { get; init; }
    public string? CompanyName { get; init; }
    public string? CompanySize { get; init; }
    public required string ServiceUrgency { get; init; }
    public required bool AgreeToTerms { get; init; }
    public required bool PrivacyConsent { get; init; }
    public bool MarketingConsent { get; init; }
    public string? CaptchaToken { get; init; }
    public required string Source { get; init; }
    public string? UserAgent { get; init; }
    public IPAddress? IpAddress { get; init; }
}
