using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Hermes.Api.Intake;

/// <summary>
/// The canary's key to the intake: <c>HERMES_CANARY_SECRET</c>, the same value the admin host's canary sends in the
/// <see cref="Header"/> header (docs/monitoring.md, "The canary"). A submission to <c>POST /api/leads</c> with that
/// header and the right secret is stored as a canary (<c>is_canary</c>); with a wrong secret, or when the API has none,
/// it is refused with 403 and nothing is stored. The marker is never read from the body: a website visitor cannot make
/// a lead a canary, and nothing a visitor sends hides a lead from the counts.
/// </summary>
public sealed class CanaryIntakeOptions
{
    public const string SecretKey = "HERMES_CANARY_SECRET";
    public const string Header = "Hermes-Canary";
    public const int MinimumLength = 32;

    public string? Secret { get; set; }

    /// <summary>True when <paramref name="given"/> is the configured secret (compared in constant time).</summary>
    public bool Admits(string given) =>
        !string.IsNullOrEmpty(Secret) &&
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), SHA256.HashData(Encoding.UTF8.GetBytes(Secret)));
}

/// <summary>Checks <see cref="CanaryIntakeOptions"/> at start, naming the key.</summary>
internal sealed class CanaryIntakeOptionsValidator : IValidateOptions<CanaryIntakeOptions>
{
    public ValidateOptionsResult Validate(string? name, CanaryIntakeOptions options) =>
        options.Secret is { } secret && (secret.Trim().Length < CanaryIntakeOptions.MinimumLength || secret.Contains(' ', StringComparison.Ordinal))
            ? ValidateOptionsResult.Fail($"{CanaryIntakeOptions.SecretKey} must be at least {CanaryIntakeOptions.MinimumLength} characters without spaces (e.g. openssl rand -hex 32), or unset to refuse canaries.")
            : ValidateOptionsResult.Success;
}
