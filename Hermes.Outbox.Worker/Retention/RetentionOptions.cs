using Hermes.Persistence.Operations;
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

    /// <summary>
    /// <c>Retention:AuditPeriod</c>: audit trail entries older than this are deleted (<c>hermes_audit_purge</c>); longer than
    /// leads' delivery data, and never under 30 days, which the database itself enforces.
    /// </summary>
    public TimeSpan AuditPeriod { get; set; } = TimeSpan.FromDays(400);

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

        if (options.AuditPeriod < AuditTrail.MinimumRetention)
        {
            errors.Add($"{RetentionOptions.Section}:AuditPeriod must be at least {AuditTrail.MinimumRetention.TotalDays:0} days (30.00:00:00), not {options.AuditPeriod}: the audit trail is kept longer than anything it describes.");
        }

        if (options.Interval <= TimeSpan.Zero)
        {
            errors.Add($"{RetentionOptions.Section}:Interval must be a positive duration like 01:00:00, not {options.Interval}.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
