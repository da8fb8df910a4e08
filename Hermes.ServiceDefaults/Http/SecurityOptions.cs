using Microsoft.Extensions.Options;

namespace Hermes.ServiceDefaults.Http;

/// <summary>Section <c>Security</c>: the limits of the public surface that are not the intake's own.</summary>
public sealed class SecurityOptions
{
    public const string Section = "Security";

    /// <summary><c>Security:RequestTimeout</c>: a request still running after this is cancelled and answered 504.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary><c>Security:MaxRequestHeadersTotalSize</c>: bytes of all request headers together; more is answered 431.</summary>
    public int MaxRequestHeadersTotalSize { get; set; } = 16 * 1024;

    /// <summary><c>Security:MaxRequestHeaderCount</c>: how many request headers a request may carry.</summary>
    public int MaxRequestHeaderCount { get; set; } = 50;

    /// <summary><c>Security:HstsMaxAge</c>: the <c>Strict-Transport-Security</c> max-age sent on HTTPS answers.</summary>
    public TimeSpan HstsMaxAge { get; set; } = TimeSpan.FromDays(365);
}

internal sealed class SecurityOptionsValidator : IValidateOptions<SecurityOptions>
{
    public ValidateOptionsResult Validate(string? name, SecurityOptions options)
    {
        var errors = new List<string>();
        if (options.RequestTimeout <= TimeSpan.Zero || options.RequestTimeout > TimeSpan.FromMinutes(10))
        {
            errors.Add($"{SecurityOptions.Section}:RequestTimeout must be more than 0 and at most 00:10:00.");
        }

        if (options.MaxRequestHeadersTotalSize is < 1024 or > 1024 * 1024)
        {
            errors.Add($"{SecurityOptions.Section}:MaxRequestHeadersTotalSize must be between 1024 and 1048576 bytes.");
        }

        if (options.MaxRequestHeaderCount is < 10 or > 1000)
        {
            errors.Add($"{SecurityOptions.Section}:MaxRequestHeaderCount must be between 10 and 1000.");
        }

        if (options.HstsMaxAge < TimeSpan.Zero)
        {
            errors.Add($"{SecurityOptions.Section}:HstsMaxAge must not be negative.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
