using Microsoft.Extensions.Options;

namespace Hermes.Outbox.Worker.Retention;

/// <summary>The <c>Retention</c> section: how long delivered outbox rows and attempt logs are kept, and how often the worker purges.</summary>
public sealed class RetentionOptions
{
    public const string Section = "Retention";

    /// <summary><c>Retention:Enabled</c>: false leaves purging to the <c>purge</c> verb (or to nobody).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary><c>Retention:Period</c>: delivered rows and attempt logs older than this are deleted. Leads never are.</summary>
    public TimeSpan Period { get; set; } = TimeSpan.FromDays(7);

    /// <summary><c>Retention:Interval</c>: the time between two purges; the first runs shortly after start.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(1);
}

/// <summary>
/// Checks <see cref="RetentionOptions"/> at start; every message names its key. A validator rather than data
/// annotations: those read the options by reflection, which the native (AOT) worker does not keep.
/// </summary>
public sealed class RetentionOptionsValidator : IValidateOptions<RetentionOptions>
{
    public ValidateOptionsResult Validate(string? name, RetentionOptions options)
    {
        var errors = new List<string>();
        if (options.Period <= TimeSpan.Zero)
        {
            errors.Add($"{RetentionOptions.Section}:Period must be a positive duration like 7.00:00:00, not {options.Period}.");
        }

        if (options.Interval <= TimeSpan.Zero)
        {
            errors.Add($"{RetentionOptions.Section}:Interval must be a positive duration like 01:00:00, not {options.Interval}.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
