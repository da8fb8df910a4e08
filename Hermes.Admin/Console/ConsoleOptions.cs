using Microsoft.Extensions.Options;

namespace Hermes.Admin.OperatorConsole;

/// <summary>Section <c>Console</c>: how long a console session lasts. How many wrong keys a client may try is <see cref="Admin.AdminKeyThrottleOptions"/>.</summary>
public sealed class ConsoleOptions
{
    public const string Section = "Console";

    /// <summary><c>Console:IdleTimeout</c>: a session not used for this long ends (every request renews it).</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(20);

    /// <summary><c>Console:MaxSessionLength</c>: a session ends this long after sign-in, however busy.</summary>
    public TimeSpan MaxSessionLength { get; set; } = TimeSpan.FromHours(8);
}

internal sealed class ConsoleOptionsValidator : IValidateOptions<ConsoleOptions>
{
    public ValidateOptionsResult Validate(string? name, ConsoleOptions options)
    {
        var errors = new List<string>();
        if (options.IdleTimeout < TimeSpan.FromMinutes(1) || options.IdleTimeout > TimeSpan.FromHours(12))
        {
            errors.Add($"{ConsoleOptions.Section}:IdleTimeout must be from 00:01:00 to 12:00:00.");
        }

        if (options.MaxSessionLength < options.IdleTimeout || options.MaxSessionLength > TimeSpan.FromDays(1))
        {
            errors.Add($"{ConsoleOptions.Section}:MaxSessionLength must be at least IdleTimeout and at most 1.00:00:00.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
