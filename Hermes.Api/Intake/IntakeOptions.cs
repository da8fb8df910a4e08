using System.Net;
using Hermes.Domain;
using Microsoft.Extensions.Options;

namespace Hermes.Api.Intake;

/// <summary>
/// The settings of the submission endpoints, section <c>Intake</c>. Lists may be given as JSON arrays
/// (<c>Intake__Cors__AllowedOrigins__0=...</c>) or as one comma-separated value (<c>Intake__Cors__AllowedOrigins=a,b</c>).
/// </summary>
public sealed class IntakeOptions
{
    public const string Section = "Intake";

    /// <summary>The largest request body accepted, in bytes; larger bodies get 413.</summary>
    public long MaxBodyBytes { get; set; } = 64 * 1024;

    /// <summary>Longest accepted <c>problemDescription</c>, in characters.</summary>
    public int MaxProblemDescriptionLength { get; set; } = new LeadValidationOptions().MaxProblemDescriptionLength;

    /// <summary>Allowed <c>serviceUrgency</c> values; empty means the seed's four.</summary>
    public string[]? ServiceUrgencies { get; set; }

    /// <summary>Allowed <c>companySize</c> values; empty means the seed's six.</summary>
    public string[]? CompanySizes { get; set; }

    /// <summary>
    /// Addresses (<c>10.0.0.5</c>) or networks (<c>10.0.0.0/8</c>) of reverse proxies whose <c>X-Forwarded-For</c>
    /// is believed. Empty (the default): the header is ignored and the client is the connection's address.
    /// </summary>
    public string[]? TrustedProxies { get; set; }

    /// <summary>The <c>Retry-After</c> sent with 503 when the database (or the captcha service) is unreachable.</summary>
    public TimeSpan UnavailableRetryAfter { get; set; } = TimeSpan.FromSeconds(5);

    public IntakeRateLimitOptions RateLimit { get; set; } = new();

    public IntakeCorsOptions Cors { get; set; } = new();

    public IntakeCaptchaOptions Captcha { get; set; } = new();

    public IntakeGroupCommitOptions GroupCommit { get; set; } = new();

    /// <summary>The rules the domain validator applies, built from these settings.</summary>
    public LeadValidationOptions ToValidationOptions() => new()
    {
        ServiceUrgencies = ServiceUrgencies is { Length: > 0 } urgencies ? [.. urgencies] : [.. Domain.ServiceUrgencies.DefaultPriorities.Keys],
        CompanySizes = CompanySizes is { Length: > 0 } sizes ? [.. sizes] : [.. Domain.CompanySizes.Default],
        MaxProblemDescriptionLength = MaxProblemDescriptionLength,
    };
}

/// <summary>The per-client-IP fixed-window limit (<c>Intake:RateLimit</c>).</summary>
public sealed class IntakeRateLimitOptions
{
    /// <summary>Submissions one client address may make per <see cref="Window"/>.</summary>
    public int PermitLimit { get; set; } = 10;

    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(1);
}

/// <summary>Cross-origin access (<c>Intake:Cors</c>): denied unless the origin is listed.</summary>
public sealed class IntakeCorsOptions
{
    /// <summary>Origins allowed to POST from a browser, e.g. <c>https://www.hermessecurity.io</c>.</summary>
    public string[]? AllowedOrigins { get; set; }

    /// <summary>How long a browser may cache a preflight answer.</summary>
    public TimeSpan PreflightMaxAge { get; set; } = TimeSpan.FromMinutes(10);
}

/// <summary>The optional captcha check (<c>Intake:Captcha</c>), Turnstile, hCaptcha or reCAPTCHA style.</summary>
public sealed class IntakeCaptchaOptions
{
    public bool Enabled { get; set; }

    /// <summary>The verify endpoint, e.g. <c>https://challenges.cloudflare.com/turnstile/v0/siteverify</c>.</summary>
    public string? VerifyUrl { get; set; }

    /// <summary>The site's secret key (from the environment: <c>Intake__Captcha__Secret</c>).</summary>
    public string? Secret { get; set; }

    /// <summary>How long to wait for the verify endpoint before answering 503.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// Group commit (<c>Intake:GroupCommit</c>): submissions that arrive while a transaction is being written share the
/// next one (see <c>SubmissionStore</c>, Hermes.Persistence). Nothing waits on a timer: a lone submission is written at once.
/// </summary>
public sealed class IntakeGroupCommitOptions
{
    /// <summary>The most leads one transaction takes; 1 writes every lead in its own transaction.</summary>
    public int MaxBatch { get; set; } = 32;

    /// <summary>How many transactions may be in flight at once (each on its own connection).</summary>
    public int Writers { get; set; } = 2;
}

/// <summary>Checks the <c>Intake</c> section when the host starts; every message names its key.</summary>
internal sealed class IntakeOptionsValidator : IValidateOptions<IntakeOptions>
{
    public ValidateOptionsResult Validate(string? name, IntakeOptions options)
    {
        var failures = new List<string>();
        const string s = IntakeOptions.Section;

        if (options.MaxBodyBytes is < 1024 or > 16 * 1024 * 1024)
        {
            failures.Add($"{s}:MaxBodyBytes must be between 1024 and 16777216 bytes (got {options.MaxBodyBytes}).");
        }

        if (options.MaxProblemDescriptionLength is < 1 or > 1_000_000)
        {
            failures.Add($"{s}:MaxProblemDescriptionLength must be between 1 and 1000000 (got {options.MaxProblemDescriptionLength}).");
        }

        CheckValues(options.ServiceUrgencies, $"{s}:ServiceUrgencies", LeadSubmissionValidator.UrgencyMax, failures);
        CheckValues(options.CompanySizes, $"{s}:CompanySizes", LeadSubmissionValidator.CompanySizeMax, failures);

        foreach (var proxy in options.TrustedProxies ?? [])
        {
            if (!IPAddress.TryParse(proxy, out _) && !IPNetwork.TryParse(proxy, out _))
            {
                failures.Add($"{s}:TrustedProxies: '{proxy}' is neither an IP address nor a network in CIDR form (10.0.0.0/8).");
            }
        }

        if (options.UnavailableRetryAfter < TimeSpan.FromSeconds(1) || options.UnavailableRetryAfter > TimeSpan.FromHours(1))
        {
            failures.Add($"{s}:UnavailableRetryAfter must be between 00:00:01 and 01:00:00 (got {options.UnavailableRetryAfter}).");
        }

        if (options.RateLimit.PermitLimit < 1)
        {
            failures.Add($"{s}:RateLimit:PermitLimit must be at least 1 (got {options.RateLimit.PermitLimit}).");
        }

        if (options.RateLimit.Window < TimeSpan.FromSeconds(1) || options.RateLimit.Window > TimeSpan.FromDays(1))
        {
            failures.Add($"{s}:RateLimit:Window must be between 00:00:01 and 1.00:00:00 (got {options.RateLimit.Window}).");
        }

        foreach (var origin in options.Cors.AllowedOrigins ?? [])
        {
            if (!IsOrigin(origin))
            {
                failures.Add($"{s}:Cors:AllowedOrigins: '{origin}' is not an origin (scheme://host[:port], http or https, no path).");
            }
        }

        if (options.Cors.PreflightMaxAge < TimeSpan.Zero || options.Cors.PreflightMaxAge > TimeSpan.FromDays(1))
        {
            failures.Add($"{s}:Cors:PreflightMaxAge must be between 00:00:00 and 1.00:00:00 (got {options.Cors.PreflightMaxAge}).");
        }

        var captcha = options.Captcha;
        if (captcha.Enabled)
        {
            if (!Uri.TryCreate(captcha.VerifyUrl, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
            {
                failures.Add($"{s}:Captcha:VerifyUrl must be an absolute http(s) URL when {s}:Captcha:Enabled is true.");
            }

            if (string.IsNullOrWhiteSpace(captcha.Secret))
            {
                failures.Add($"{s}:Captcha:Secret is required when {s}:Captcha:Enabled is true.");
            }
        }

        if (captcha.Timeout <= TimeSpan.Zero || captcha.Timeout > TimeSpan.FromMinutes(1))
        {
            failures.Add($"{s}:Captcha:Timeout must be between 00:00:00 and 00:01:00, exclusive of zero (got {captcha.Timeout}).");
        }

        if (options.GroupCommit.MaxBatch is < 1 or > Persistence.ModelInsert<Lead>.MaxRows)
        {
            failures.Add($"{s}:GroupCommit:MaxBatch must be between 1 and {Persistence.ModelInsert<Lead>.MaxRows} (got {options.GroupCommit.MaxBatch}).");
        }

        if (options.GroupCommit.Writers is < 1 or > 32)
        {
            failures.Add($"{s}:GroupCommit:Writers must be between 1 and 32 (got {options.GroupCommit.Writers}).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void CheckValues(string[]? values, string key, int max, List<string> failures)
    {
        foreach (var value in values ?? [])
        {
            if (string.IsNullOrWhiteSpace(value) || value.Length > max || value.Trim() != value)
            {
                failures.Add($"{key}: '{value}' must be 1 to {max} characters without surrounding spaces.");
            }
        }

        if (values is { Length: > 0 } && values.Distinct(StringComparer.Ordinal).Count() != values.Length)
        {
            failures.Add($"{key} lists a value twice.");
        }
    }

    /// <summary>An origin as browsers send it: scheme, host and optional port, nothing else.</summary>
    internal static bool IsOrigin(string origin) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var uri)
        && uri.Scheme is "http" or "https"
        && uri.GetLeftPart(UriPartial.Authority).Equals(origin.TrimEnd('/'), StringComparison.OrdinalIgnoreCase)
        && string.IsNullOrEmpty(uri.UserInfo);
}
