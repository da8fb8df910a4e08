namespace Hermes.Domain;

/// <summary>One POST to n8n, as an operator reads it later: a row of <c>hermes_delivery_attempts</c>.</summary>
public sealed class DeliveryAttempt
{
    public long Id { get; set; }
    public long OutboxId { get; set; }
    /// <summary>The lead's <see cref="Lead.BackupId"/> (column <c>lead_id</c>).</summary>
    public long BackupId { get; set; }

    /// <summary>The attempt number within the replay generation (1 for the first).</summary>
    public int AttemptNumber { get; set; }

    public DateTimeOffset StartedAt { get; set; }
    public int DurationMs { get; set; }

    /// <summary>HTTP status, or null when no answer came (timeout, refused, dropped connection).</summary>
    public int? StatusCode { get; set; }

    /// <summary>One of <see cref="DeliveryOutcomes"/>.</summary>
    public required string Outcome { get; set; }

    public string? Error { get; set; }
    public string? ResponseExcerpt { get; set; }
    public string? WorkerId { get; set; }

    /// <summary>For a failed attempt: <see cref="FailureClasses.Outage"/> or <see cref="FailureClasses.Content"/>.</summary>
    public string? FailureClass { get; set; }
}
