using System.Text.Json;
using Hermes.Domain;

namespace Hermes.Tests.Infrastructure;

/// <summary>
/// The sample lead, once: valid forms, submissions and leads for the tests, and (linked into their projects) for the
/// benchmarks under <c>bench/</c>.
/// </summary>
public static class TestData
{
    public static LeadForm ValidForm(string? email = null) => new()
    {
        FirstName = "Ada",
        LastName = "Lovelace",
        Email = email ?? "ada@example.com",
        Country = "United Kingdom",
        PhoneNumber = "+44 20 7946 0958",
        UserRole = "CISO",
        ProblemDescription = "Our web shop was defaced last night.\nWe need an incident response.",
        CompanyName = "Analytical Engines Ltd",
        CompanySize = "11-50",
        ServiceUrgency = "urgent",
        AgreeToTerms = true,
        PrivacyConsent = true,
        MarketingConsent = false,
        CaptchaToken = "token-123",
        Source = "hermes-website",
    };

    /// <summary>
    /// The contact form's fields as the website sends them: <see cref="LeadForm"/>'s properties under their JSON names,
    /// in its order (the ten text fields first, then the three consents, the captcha token and the source).
    /// </summary>
    public static IReadOnlyList<string> FormFields { get; } =
        [.. JsonSerializer.SerializeToNode(new LeadForm(), JsonSerializerOptions.Web)!.AsObject().Select(static p => p.Key)];

    public static LeadSubmission ValidSubmission(string? email = null)
    {
        var result = LeadSubmissionValidator.Validate(ValidForm(email), new SubmissionMetadata("Mozilla/5.0 test", System.Net.IPAddress.Parse("203.0.113.7")), new LeadValidationOptions());
        return result.Submission ?? throw new InvalidOperationException("The test form is invalid: " + string.Join("; ", result.Errors.Select(static e => e.Key)));
    }

    /// <summary>The sample submission as the lead Hermes stores (status <c>queued</c>); the database assigns its row id and creation time.</summary>
    public static Lead ValidLead(string leadId, string? email = null) => Lead.FromSubmission(ValidSubmission(email), leadId);
}
