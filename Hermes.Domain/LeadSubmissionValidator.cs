using System.Globalization;
using System.Net;
using System.Text;

namespace Hermes.Domain;

/// <summary>Settings of the submission rules that operators may change.</summary>
public sealed class LeadValidationOptions
{
    /// <summary>Allowed <c>serviceUrgency</c> values; the first that matches the seed's table maps to its priority.</summary>
    public IList<string> ServiceUrgencies { get; set; } = [.. Domain.ServiceUrgencies.DefaultPriorities.Keys];

    /// <summary>Allowed <c>companySize</c> values.</summary>
    public IList<string> CompanySizes { get; set; } = [.. Domain.CompanySizes.Default];

    /// <summary>Longest accepted <c>problemDescription</c>, in characters (the column is TEXT).</summary>
    public int MaxProblemDescriptionLength { get; set; } = 5000;
}

/// <summary>The outcome of validating a form: the submission, or errors per camelCase field name.</summary>
public sealed record SubmissionValidationResult(LeadSubmission? Submission, IReadOnlyDictionary<string, string[]> Errors)
{
    public bool IsValid => Submission is not null;
}

/// <summary>
/// The submission rules, derived from the seed's schema: NOT NULL columns without a default are required,
/// VARCHAR lengths are maximum lengths, consents must be given, enumerations come from configuration.
/// Strings are trimmed and NFC-normalised; control characters are refused (line breaks are allowed only
/// in the problem description); empty optional fields become null.
/// </summary>
public static class LeadSubmissionValidator
{
    // Maximum lengths from the seed's VARCHAR(n) columns.
    public const int NameMax = 100;
    public const int EmailMax = 255;
    public const int CountryMax = 100;
    public const int PhoneMax = 50;
    public const int UserRoleMax = 100;
    public const int CompanyNameMax = 255;
    public const int CompanySizeMax = 50;
    public const int UrgencyMax = 50;
    public const int CaptchaTokenMax = 500;
    public const int SourceMax = 50;
    public const int UserAgentMax = 1000;

    public static SubmissionValidationResult Validate(LeadForm form, SubmissionMetadata metadata, LeadValidationOptions options)
    {
        var errors = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        void Fail(string field, string message)
        {
            if (!errors.TryGetValue(field, out var list))
            {
                errors[field] = list = [];
            }

            list.Add(message);
        }

        var firstName = Text(form.FirstName, "firstName", NameMax, required: true, multiline: false, Fail);
        var lastName = Text(form.LastName, "lastName", NameMax, required: true, multiline: false, Fail);
        var email = Text(form.Email, "email", EmailMax, required: true, multiline: false, Fail);
        var country = Text(form.Country, "country", CountryMax, required: true, multiline: false, Fail);
        var phone = Text(form.PhoneNumber, "phoneNumber", PhoneMax, required: true, multiline: false, Fail);
        var userRole = Text(form.UserRole, "userRole", UserRoleMax, required: false, multiline: false, Fail);
        var problem = Text(form.ProblemDescription, "problemDescription", options.MaxProblemDescriptionLength, required: true, multiline: true, Fail);
        var companyName = Text(form.CompanyName, "companyName", CompanyNameMax, required: false, multiline: false, Fail);
        var companySize = Text(form.CompanySize, "companySize", CompanySizeMax, required: false, multiline: false, Fail);
        var urgency = Text(form.ServiceUrgency, "serviceUrgency", UrgencyMax, required: false, multiline: false, Fail) ?? ServiceUrgencies.Default;
        var captcha = Text(form.CaptchaToken, "captchaToken", CaptchaTokenMax, required: false, multiline: false, Fail);
        var source = Text(form.Source, "source", SourceMax, required: false, multiline: false, Fail) ?? LeadSubmission.DefaultSource;

        if (email is not null)
        {
            email = NormaliseEmail(email);
            if (email is null)
            {
                Fail("email", "Enter a valid email address, like name@example.com.");
            }
        }

        if (phone is not null && !IsPhoneNumber(phone))
        {
            Fail("phoneNumber", "Enter a phone number of 6 to 20 digits; spaces, +, -, dots and brackets are allowed.");
        }

        if (companySize is not null && !options.CompanySizes.Contains(companySize, StringComparer.Ordinal))
        {
            Fail("companySize", $"Must be one of: {string.Join(", ", options.CompanySizes)}.");
        }

        if (!options.ServiceUrgencies.Contains(urgency, StringComparer.Ordinal))
        {
            Fail("serviceUrgency", $"Must be one of: {string.Join(", ", options.ServiceUrgencies)}.");
        }

        if (!IsSourceName(source))
        {
            Fail("source", "Use letters, digits, '.', '_' or '-' only.");
        }

        if (form.AgreeToTerms != true)
        {
            Fail("agreeToTerms", "The terms must be accepted.");
        }

        if (form.PrivacyConsent != true)
        {
            Fail("privacyConsent", "Consent to the privacy policy is required.");
        }

        if (errors.Count > 0)
        {
            return new SubmissionValidationResult(null, errors.ToDictionary(static e => e.Key, static e => e.Value.ToArray(), StringComparer.Ordinal));
        }

        var submission = new LeadSubmission
        {
            FirstName = firstName!,
            LastName = lastName!,
            Email = email!,
            Country = country!,
            PhoneNumber = phone!,
            UserRole = userRole,
            ProblemDescription = problem!,
            CompanyName = companyName,
            CompanySize = companySize,
            ServiceUrgency = urgency,
            AgreeToTerms = true,
            PrivacyConsent = true,
            MarketingConsent = form.MarketingConsent ?? false,
            CaptchaToken = captcha,
            Source = source,
            UserAgent = CleanUserAgent(metadata.UserAgent),
            IpAddress = metadata.IpAddress is { } ip && ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : metadata.IpAddress,
        };
        return new SubmissionValidationResult(submission, new Dictionary<string, string[]>());
    }

    private static string? Text(string? value, string field, int max, bool required, bool multiline, Action<string, string> fail)
    {
        var text = value?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            if (required)
            {
                fail(field, "This field is required.");
            }

            return null;
        }

        // Checked before normalising: normalisation throws on an unpaired surrogate.
        if (HasForbiddenCharacters(text, multiline))
        {
            fail(field, multiline ? "Contains control characters." : "Contains line breaks or control characters.");
            return null;
        }

        if (!text.IsNormalized(NormalizationForm.FormC))
        {
            text = text.Normalize(NormalizationForm.FormC);
        }

        if (multiline)
        {
            text = text.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');
        }
        else
        {
            text = CollapseSpaces(text);
        }

        if (text.Length > max)
        {
            fail(field, $"Must be at most {max} characters (got {text.Length}).");
            return null;
        }

        return text;
    }

    private static bool HasForbiddenCharacters(string text, bool multiline)
    {
        var span = text.AsSpan();
        while (!span.IsEmpty)
        {
            // An unpaired surrogate cannot be stored as UTF-8: refuse it rather than let it be replaced.
            if (Rune.DecodeFromUtf16(span, out var rune, out var consumed) != System.Buffers.OperationStatus.Done)
            {
                return true;
            }

            span = span[consumed..];
            if (multiline && rune.Value is '\n' or '\r' or '\t')
            {
                continue;
            }

            if (Rune.GetUnicodeCategory(rune) == UnicodeCategory.Control || IsDangerousFormat(rune) || rune.Value is 0x2028 or 0x2029)
            {
                return true;
            }
        }

        return false;
    }

    // Bidirectional overrides can disguise what a field says (the "Trojan Source" trick); zero-width joiners are legitimate.
    private static bool IsDangerousFormat(Rune rune) => rune.Value is (>= 0x202A and <= 0x202E) or (>= 0x2066 and <= 0x2069);

    private static string CollapseSpaces(string text)
    {
        if (!text.Contains("  ", StringComparison.Ordinal) && !text.Contains('\t', StringComparison.Ordinal))
        {
            return text;
        }

        var builder = new StringBuilder(text.Length);
        var previousSpace = false;
        foreach (var c in text)
        {
            var space = c is ' ' or '\t';
            if (space && previousSpace)
            {
                continue;
            }

            builder.Append(space ? ' ' : c);
            previousSpace = space;
        }

        return builder.ToString();
    }

    /// <summary>
    /// Returns the address with its domain lower-cased (and IDN domains in their ASCII form), or null when it
    /// is not an address mail can be sent to: one '@', a local part of at most 64 characters without spaces
    /// or quotes, a domain of dot-separated labels with a top-level label of at least two letters.
    /// </summary>
    public static string? NormaliseEmail(string email)
    {
        var at = email.LastIndexOf('@');
        if (at <= 0 || at == email.Length - 1 || email.IndexOf('@', StringComparison.Ordinal) != at)
        {
            return null;
        }

        var local = email[..at];
        var domain = email[(at + 1)..];
        if (local.Length > 64 || local.StartsWith('.') || local.EndsWith('.') || local.Contains("..", StringComparison.Ordinal))
        {
            return null;
        }

        foreach (var c in local)
        {
            var ok = char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-/=?^_`{|}~.".Contains(c, StringComparison.Ordinal) || (c > 127 && char.IsLetterOrDigit(c));
            if (!ok)
            {
                return null;
            }
        }

        string asciiDomain;
        try
        {
            asciiDomain = new IdnMapping().GetAscii(domain.TrimEnd('.')).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            return null;
        }

        var labels = asciiDomain.Split('.');
        if (labels.Length < 2 || asciiDomain.Length > 253)
        {
            return null;
        }

        foreach (var label in labels)
        {
            if (label.Length is 0 or > 63 || label.StartsWith('-') || label.EndsWith('-')
                || !label.All(static c => char.IsAsciiLetterOrDigit(c) || c == '-'))
            {
                return null;
            }
        }

        var tld = labels[^1];
        if (tld.Length < 2 || !(tld.All(char.IsAsciiLetter) || tld.StartsWith("xn--", StringComparison.Ordinal)))
        {
            return null;
        }

        var normalised = $"{local}@{domain.TrimEnd('.').ToLowerInvariant()}";
        return normalised.Length <= EmailMax ? normalised : null;
    }

    private static bool IsPhoneNumber(string phone)
    {
        var digits = 0;
        foreach (var c in phone)
        {
            if (char.IsAsciiDigit(c))
            {
                digits++;
            }
            else if (c is not (' ' or '+' or '-' or '.' or '(' or ')' or '/'))
            {
                return false;
            }
        }

        return digits is >= 6 and <= 20 && phone.LastIndexOf('+') <= 0;
    }

    private static bool IsSourceName(string source) =>
        source.All(static c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    private static string? CleanUserAgent(string? userAgent)
    {
        if (string.IsNullOrWhiteSpace(userAgent))
        {
            return null;
        }

        var clean = new string([.. userAgent.Trim().Where(static c => !char.IsControl(c))]);
        return SafeText.Clean(clean, UserAgentMax);
    }
}
