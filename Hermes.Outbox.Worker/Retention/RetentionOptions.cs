using System.ComponentModel.DataAnnotations;

namespace Hermes.Outbox.Worker.Retention;

/// <summary>The <c>Retention</c> section: how long delivered outbox rows and attempt logs are kept, and how often the worker purges.</summary>
public sealed class RetentionOptions : IValidatableObject
{
    public const string Section = "Retention";

    /// <summary><c>Retention:Enabled</c>: false leaves purging to the <c>purge</c> verb (or to nobody).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary><c>Retention:Period</c>: delivered rows and attempt logs older than this are deleted. Leads never are.</summary>
    public TimeSpan Period { get; set; } = TimeSpan.FromDays(7);

    /// <summary><c>Retention:Interval</c>: the time between two purges; the first runs shortly after start.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(1);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Period <= TimeSpan.Zero)
        {
            yield return new ValidationResult($"{Section}:Period must be a positive duration like 7.00:00:00, not {Period}.", [nameof(Period)]);
        }

        if (Interval <= TimeSpan.Zero)
        {
            yield return new ValidationResult($"{Section}:Interval must be a positive duration like 01:00:00, not {Interval}.", [nameof(Interval)]);
        }
    }
}
