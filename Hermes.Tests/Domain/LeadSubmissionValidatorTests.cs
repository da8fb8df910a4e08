using System.Net;
using Hermes.Domain;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Domain;

public sealed class LeadSubmissionValidatorTests
{
    private static readonly SubmissionMetadata Metadata = new("Mozilla/5.0", IPAddress.Parse("198.51.100.4"));

    private static SubmissionValidationResult Validate(LeadForm form, LeadValidationOptions? options = null) =>
        LeadSubmissionValidator.Validate(form, Metadata, options ?? new LeadValidationOptions());

    [Test]
    public void A_complete_form_is_valid_and_keeps_its_values()
    {
        var result = Validate(TestData.ValidForm());

        Assert.That(result.IsValid, Is.True, string.Join("; ", result.Errors.Keys));
        Assert.That(result.Submission!.FirstName, Is.EqualTo("Ada"));
        Assert.That(result.Submission.ServiceUrgency, Is.EqualTo("urgent"));
        Assert.That(result.Submission.IpAddress, Is.EqualTo(IPAddress.Parse("198.51.100.4")));
        Assert.That(result.Submission.UserAgent, Is.EqualTo("Mozilla/5.0"));
    }

    [TestCase("firstName")]
    [TestCase("lastName")]
    [TestCase("email")]
    [TestCase("country")]
    [TestCase("phoneNumber")]
    [TestCase("problemDescription")]
    public void Each_seed_not_null_field_is_required(string field)
    {
        var form = With(TestData.ValidForm(), field, "   ");

        var result = Validate(form);

        Assert.That(result.IsValid, Is.False);
        Assert.That(result.Errors.Keys, Is.EqualTo(new[] { field }));
        Assert.That(result.Errors[field], Has.Some.Contains("required"));
    }

    [TestCase("firstName", 100)]
    [TestCase("lastName", 100)]
    [TestCase("country", 100)]
    [TestCase("userRole", 100)]
    [TestCase("companyName", 255)]
    [TestCase("captchaToken", 500)]
    public void Each_field_has_the_seed_maximum_length(string field, int max)
    {
        Assert.That(Validate(With(TestData.ValidForm(), field, new string('x', max))).IsValid, Is.True, "at the limit");

        var result = Validate(With(TestData.ValidForm(), field, new string('x', max + 1)));

        Assert.That(result.Errors.Keys, Is.EqualTo(new[] { field }));
        Assert.That(result.Errors[field][0], Does.Contain($"at most {max}"));
    }

    [Test]
    public void The_problem_description_limit_is_configurable()
    {
        var options = new LeadValidationOptions { MaxProblemDescriptionLength = 20 };

        Assert.That(Validate(TestData.ValidForm() with { ProblemDescription = new string('a', 20) }, options).IsValid, Is.True);
        Assert.That(Validate(TestData.ValidForm() with { ProblemDescription = new string('a', 21) }, options).Errors.Keys, Is.EqualTo(new[] { "problemDescription" }));
    }

    [TestCase("plainaddress")]
    [TestCase("@example.com")]
    [TestCase("a@")]
    [TestCase("a@b")]
    [TestCase("a@b.c")]
    [TestCase("a b@example.com")]
    [TestCase("a@@example.com")]
    [TestCase("a@exa mple.com")]
    [TestCase(".a@example.com")]
    [TestCase("a..b@example.com")]
    [TestCase("a@-example.com")]
    [TestCase("a@example..com")]
    [TestCase("\"quoted\"@example.com")]
    [TestCase("a@example.123")]
    public void An_address_mail_cannot_reach_is_refused(string email) =>
        Assert.That(Validate(TestData.ValidForm(email)).Errors.Keys, Is.EqualTo(new[] { "email" }), email);

    [TestCase("ada@example.com", "ada@example.com")]
    [TestCase("  Ada.Lovelace+leads@Example.COM ", "Ada.Lovelace+leads@example.com")]
    [TestCase("o'brien@sub.example.co.uk", "o'brien@sub.example.co.uk")]
    [TestCase("jürgen@bücher.de", "jürgen@bücher.de")]
    public void A_deliverable_address_is_kept_with_its_domain_lower_cased(string email, string expected) =>
        Assert.That(Validate(TestData.ValidForm(email)).Submission?.Email, Is.EqualTo(expected));

    [TestCase("+31 6 1234 5678", true)]
    [TestCase("(020) 794-6095", true)]
    [TestCase("12345", false)]
    [TestCase("call me maybe", false)]
    [TestCase("+1 555 0100 ext. 4", false)]
    [TestCase("123456789012345678901", false)]
    [TestCase("06+12345678", false)]
    public void Phone_numbers_need_6_to_20_digits_and_phone_punctuation_only(string phone, bool valid) =>
        Assert.That(Validate(TestData.ValidForm() with { PhoneNumber = phone }).IsValid, Is.EqualTo(valid), phone);

    [TestCase(null, false)]
    [TestCase(false, false)]
    [TestCase(true, true)]
    public void Terms_must_be_accepted(bool? agree, bool valid)
    {
        var result = Validate(TestData.ValidForm() with { AgreeToTerms = agree });

        Assert.That(result.IsValid, Is.EqualTo(valid));
        Assert.That(result.Errors.ContainsKey("agreeToTerms"), Is.EqualTo(!valid));
    }

    [TestCase(null, false)]
    [TestCase(false, false)]
    [TestCase(true, true)]
    public void Privacy_consent_must_be_given(bool? consent, bool valid) =>
        Assert.That(Validate(TestData.ValidForm() with { PrivacyConsent = consent }).Errors.ContainsKey("privacyConsent"), Is.EqualTo(!valid));

    [Test]
    public void Marketing_consent_defaults_to_false()
    {
        Assert.That(Validate(TestData.ValidForm() with { MarketingConsent = null }).Submission!.MarketingConsent, Is.False);
        Assert.That(Validate(TestData.ValidForm() with { MarketingConsent = true }).Submission!.MarketingConsent, Is.True);
    }

    [Test]
    public void Service_urgency_defaults_to_not_urgent_and_maps_to_the_seed_priority()
    {
        var submission = Validate(TestData.ValidForm() with { ServiceUrgency = null }).Submission!;

        Assert.That(submission.ServiceUrgency, Is.EqualTo("not-urgent"));
        Assert.That(Lead.FromSubmission(submission, "lead_x").Priority, Is.EqualTo("low"));
        Assert.That(ServiceUrgencies.PriorityFor("soon"), Is.EqualTo("medium"));
        Assert.That(ServiceUrgencies.PriorityFor("urgent"), Is.EqualTo("high"));
        Assert.That(ServiceUrgencies.PriorityFor("emergency"), Is.EqualTo("critical"));
    }

    [Test]
    public void Service_urgency_and_company_size_must_be_allowed_values()
    {
        var result = Validate(TestData.ValidForm() with { ServiceUrgency = "yesterday", CompanySize = "huge" });

        Assert.That(result.Errors.Keys, Is.EquivalentTo(new[] { "serviceUrgency", "companySize" }));
        Assert.That(result.Errors["companySize"][0], Does.Contain("1-10, 11-50, 51-200, 201-500, 501-1000, 1000+"));
    }

    [Test]
    public void Allowed_values_come_from_configuration()
    {
        var options = new LeadValidationOptions { ServiceUrgencies = ["whenever", "now"], CompanySizes = ["small", "large"] };

        Assert.That(Validate(TestData.ValidForm() with { ServiceUrgency = "now", CompanySize = "large" }, options).IsValid, Is.True);
        Assert.That(Validate(TestData.ValidForm(), options).Errors.Keys, Is.EquivalentTo(new[] { "serviceUrgency", "companySize" }));
    }

    [Test]
    public void Strings_are_trimmed_collapsed_and_empty_optionals_become_null()
    {
        var submission = Validate(TestData.ValidForm() with { FirstName = "  Ada   Augusta  ", CompanyName = "   ", UserRole = "" }).Submission!;

        Assert.That(submission.FirstName, Is.EqualTo("Ada Augusta"));
        Assert.That(submission.CompanyName, Is.Null);
        Assert.That(submission.UserRole, Is.Null);
    }

    [Test]
    public void Text_is_normalised_to_nfc()
    {
        var decomposed = "Zoe\u0308"; // e + combining diaeresis
        Assert.That(Validate(TestData.ValidForm() with { FirstName = decomposed }).Submission!.FirstName, Is.EqualTo("Zoë"));
    }

    [Test]
    public void Line_breaks_are_kept_in_the_description_and_refused_in_names()
    {
        var result = Validate(TestData.ValidForm() with { ProblemDescription = "line one\r\nline two\ttabbed" });
        Assert.That(result.Submission!.ProblemDescription, Is.EqualTo("line one\nline two\ttabbed"));

        Assert.That(Validate(TestData.ValidForm() with { LastName = "Love\nlace" }).Errors.Keys, Is.EqualTo(new[] { "lastName" }));
    }

    [TestCase("nul\0byte")]
    [TestCase("bell\u0007")]
    [TestCase("escape\u001b[31m")]
    [TestCase("bidi\u202Eevil")]
    public void Control_characters_are_refused(string text) =>
        Assert.That(Validate(TestData.ValidForm() with { ProblemDescription = text }).Errors.Keys, Is.EqualTo(new[] { "problemDescription" }));

    [Test]
    public void An_unpaired_surrogate_is_refused()
    {
        var lone = "lone" + (char)0xD800 + "surrogate";

        Assert.That(Validate(TestData.ValidForm() with { ProblemDescription = lone }).Errors.Keys, Is.EqualTo(new[] { "problemDescription" }));
    }

    [Test]
    public void Source_defaults_to_the_website_and_must_be_a_plain_name()
    {
        Assert.That(Validate(TestData.ValidForm() with { Source = null }).Submission!.Source, Is.EqualTo("hermes-website"));
        Assert.That(Validate(TestData.ValidForm() with { Source = "landing-page_2.b" }).IsValid, Is.True);
        Assert.That(Validate(TestData.ValidForm() with { Source = "<script>" }).Errors.Keys, Is.EqualTo(new[] { "source" }));
    }

    [Test]
    public void Every_error_is_reported_at_once()
    {
        var result = Validate(new LeadForm());

        Assert.That(result.Errors.Keys, Is.EquivalentTo(new[] { "firstName", "lastName", "email", "country", "phoneNumber", "problemDescription", "agreeToTerms", "privacyConsent" }));
    }

    [Test]
    public void The_user_agent_is_cleaned_and_capped_and_mapped_ipv4_is_unwrapped()
    {
        var metadata = new SubmissionMetadata("UA\u0001" + new string('x', 2000), IPAddress.Parse("::ffff:192.0.2.1"));

        var submission = LeadSubmissionValidator.Validate(TestData.ValidForm(), metadata, new LeadValidationOptions()).Submission!;

        Assert.That(submission.UserAgent, Has.Length.EqualTo(LeadSubmissionValidator.UserAgentMax));
        Assert.That(submission.UserAgent, Does.StartWith("UAxxx"));
        Assert.That(submission.IpAddress, Is.EqualTo(IPAddress.Parse("192.0.2.1")));
    }

    private static readonly object[] AgentTails =
    [
        new object[] { 999, "😀" },
        new object[] { 998, "e\u0301\u0301" },
        new object[] { 1000, "😀" },
        new object[] { 10, "\ud800" },
        new object[] { 999, "\udc00" },
    ];

    [TestCaseSource(nameof(AgentTails))]
    public void A_user_agent_is_cut_between_whole_characters_and_lone_surrogates_are_replaced(int prefix, string tail)
    {
        var metadata = new SubmissionMetadata(new string('a', prefix) + tail + new string('b', 50), IPAddress.Parse("192.0.2.1"));

        var agent = LeadSubmissionValidator.Validate(TestData.ValidForm(), metadata, new LeadValidationOptions()).Submission!.UserAgent!;

        Assert.That(agent.Length, Is.LessThanOrEqualTo(LeadSubmissionValidator.UserAgentMax));
        Assert.That(SafeText.IsStorable(agent), Is.True, "a lone surrogate or NUL would make PostgreSQL refuse the row");
        Assert.That(() => new System.Text.UTF8Encoding(false, true).GetBytes(agent), Throws.Nothing);
    }

    private static LeadForm With(LeadForm form, string field, string value) => field switch
    {
        "firstName" => form with { FirstName = value },
        "lastName" => form with { LastName = value },
        "email" => form with { Email = value },
        "country" => form with { Country = value },
        "phoneNumber" => form with { PhoneNumber = value },
        "problemDescription" => form with { ProblemDescription = value },
        "userRole" => form with { UserRole = value },
        "companyName" => form with { CompanyName = value },
        "captchaToken" => form with { CaptchaToken = value },
        _ => throw new ArgumentOutOfRangeException(nameof(field), field, null),
    };
}
