using Microsoft.Extensions.Options;

namespace Hermes.Outbox.Worker.Delivery;

/// <summary>
/// Where and how the webhook is called: <c>N8N_WEBHOOK_URL</c>, <c>HERMES_WEBHOOK_SECRET</c>, and section
/// <c>Webhook</c> (<c>AuthHeaderName</c>, <c>AuthHeaderValue</c>, <c>MaxResponseBytes</c>).
/// </summary>
public sealed class WebhookOptions
{
    public const string UrlKey = "N8N_WEBHOOK_URL";
    public const string SecretKey = "HERMES_WEBHOOK_SECRET";
    public const string Section = "Webhook";

    /// <summary>The n8n webhook (production URL of the Webhook node), absolute http or https.</summary>
    public string? Url { get; set; }

    /// <summary>One or more <c>whsec_</c> secrets separated by spaces; each signs every request (rotation).</summary>
    public string? Secret { get; set; }

    /// <summary>A static header for n8n's "Header Auth" credential, e.g. <c>X-Hermes-Key</c>.</summary>
    public string? AuthHeaderName { get; set; }

    public string? AuthHeaderValue { get; set; }

    /// <summary>How much of n8n's answer is read and kept in <c>n8n_response_data</c>.</summary>
    public int MaxResponseBytes { get; set; } = 64 * 1024;

    /// <summary>
    /// <c>Webhook:AllowInsecureHttp</c>: lets an http:// <c>N8N_WEBHOOK_URL</c> through in Production (e.g. n8n on the same
    /// private network). Off by default: leads are personal data and must not cross a network in clear text.
    /// </summary>
    public bool AllowInsecureHttp { get; set; }

    public Uri WebhookUri => new(Url!, UriKind.Absolute);

    /// <summary>The signing keys, decoded (empty when no secret is configured).</summary>
    public IReadOnlyList<byte[]> SigningKeys() =>
        string.IsNullOrWhiteSpace(Secret)
            ? []
            : [.. Secret.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(static s => WebhookSigner.TryDecodeSecret(s, out var key) ? key : throw new FormatException($"{SecretKey} is malformed."))];
}

/// <summary>
/// Checks <see cref="WebhookOptions"/> at start; every message names its key. In Production the URL must be https,
/// unless <c>Webhook:AllowInsecureHttp</c> is true or the host is loopback (the request never leaves the machine).
/// </summary>
public sealed class WebhookOptionsValidator(IHostEnvironment? environment = null) : IValidateOptions<WebhookOptions>
{
    public const string AllowInsecureHttpKey = WebhookOptions.Section + ":AllowInsecureHttp";

    public ValidateOptionsResult Validate(string? name, WebhookOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Url))
        {
            errors.Add($"{WebhookOptions.UrlKey} is not set: give the n8n webhook's production URL (https://n8n.example.com/webhook/...).");
        }
        else if (!Uri.TryCreate(options.Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || string.IsNullOrEmpty(uri.Host))
        {
            errors.Add($"{WebhookOptions.UrlKey} must be an absolute http:// or https:// URL.");
        }
        else if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            errors.Add($"{WebhookOptions.UrlKey} must not carry credentials; use Webhook:AuthHeaderName and Webhook:AuthHeaderValue.");
        }
        else if (uri.Scheme == Uri.UriSchemeHttp && !uri.IsLoopback && !options.AllowInsecureHttp && environment?.IsProduction() == true)
        {
            errors.Add($"{WebhookOptions.UrlKey} must be an https:// URL in Production: leads would cross the network unencrypted. " +
                $"Use https, or set {AllowInsecureHttpKey}=true (environment variable Webhook__AllowInsecureHttp) when n8n is reached over a private network.");
        }

        if (!string.IsNullOrWhiteSpace(options.Secret))
        {
            var position = 0;
            foreach (var secret in options.Secret.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                position++;
                if (!WebhookSigner.TryDecodeSecret(secret, out _))
                {
                    errors.Add($"{WebhookOptions.SecretKey} (secret {position}) must be 'whsec_' followed by the base64 of 24 to 64 random bytes, several separated by spaces.");
                }
            }
        }

        var hasName = !string.IsNullOrWhiteSpace(options.AuthHeaderName);
        var hasValue = !string.IsNullOrEmpty(options.AuthHeaderValue);
        if (hasName != hasValue)
        {
            errors.Add($"{WebhookOptions.Section}:AuthHeaderName and {WebhookOptions.Section}:AuthHeaderValue must be set together.");
        }
        else if (hasName && !IsToken(options.AuthHeaderName!))
        {
            errors.Add($"{WebhookOptions.Section}:AuthHeaderName must be a valid HTTP header name.");
        }
        else if (hasValue && options.AuthHeaderValue!.Any(static c => c is '\r' or '\n' or '\0'))
        {
            errors.Add($"{WebhookOptions.Section}:AuthHeaderValue must not contain line breaks.");
        }

        if (options.MaxResponseBytes is < 256 or > 16 * 1024 * 1024)
        {
            errors.Add($"{WebhookOptions.Section}:MaxResponseBytes must be between 256 and 16777216.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static bool IsToken(string name) =>
        name.All(static c => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal));
}
