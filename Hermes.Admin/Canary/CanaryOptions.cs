using Microsoft.Extensions.Options;

namespace Hermes.Admin.Canary;

/// <summary>
/// The canary (section <c>Canary</c>, docs/monitoring.md "The canary"): every <see cref="Interval"/> a synthetic lead is
/// POSTed to the public API at <see cref="ApiUrl"/> with <c>HERMES_CANARY_SECRET</c>, followed through the outbox, the
/// worker and n8n until its answer is stored, then erased. Off while <see cref="Interval"/> is unset.
/// </summary>
public sealed class CanaryOptions
{
    public const string Section = "Canary";
    public const string SecretKey = "HERMES_CANARY_SECRET";
    public const int MinimumSecretLength = 32;
    public static readonly TimeSpan ShortestInterval = TimeSpan.FromSeconds(1);

    /// <summary>How often a canary runs; unset (the default) or zero: no canary.</summary>
    public TimeSpan? Interval { get; set; }

    /// <summary>The public API's base address as this host reaches it, e.g. <c>http://api:8080</c>.</summary>
    public string? ApiUrl { get; set; }

    /// <summary>How long a canary may take from its POST to its stored answer before it counts as <c>timeout</c>.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary><c>HERMES_CANARY_SECRET</c>, the API's too.</summary>
    public string? Secret { get; set; }

    public bool Enabled => Interval is { } interval && interval > TimeSpan.Zero;
}

/// <summary>Checks <see cref="CanaryOptions"/> at start; every message names its key.</summary>
internal sealed class CanaryOptionsValidator : IValidateOptions<CanaryOptions>
{
    public ValidateOptionsResult Validate(string? name, CanaryOptions options)
    {
        if (!options.Enabled)
        {
            return options.Interval is { } negative && negative < TimeSpan.Zero
                ? ValidateOptionsResult.Fail($"{CanaryOptions.Section}:Interval must not be negative (got {negative}); leave it unset to turn the canary off.")
                : ValidateOptionsResult.Success;
        }

        var s = CanaryOptions.Section;
        var errors = new List<string>();
        if (options.Interval < CanaryOptions.ShortestInterval)
        {
            errors.Add($"{s}:Interval must be at least {CanaryOptions.ShortestInterval} (got {options.Interval}).");
        }

        if (!Uri.TryCreate(options.ApiUrl, UriKind.Absolute, out var api) || api.Scheme is not ("http" or "https") || string.IsNullOrEmpty(api.Host))
        {
            errors.Add($"{s}:ApiUrl must be the public API's absolute http(s) address (e.g. http://api:8080) when {s}:Interval is set (got '{options.ApiUrl}').");
        }

        if (options.Timeout <= TimeSpan.Zero || options.Timeout > TimeSpan.FromHours(1))
        {
            errors.Add($"{s}:Timeout must be between 00:00:00 and 01:00:00, exclusive of zero (got {options.Timeout}).");
        }

        if (string.IsNullOrWhiteSpace(options.Secret) || options.Secret.Trim().Length < CanaryOptions.MinimumSecretLength)
        {
            errors.Add($"{CanaryOptions.SecretKey} must be set (at least {CanaryOptions.MinimumSecretLength} characters, the API's own) when {s}:Interval is set.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
