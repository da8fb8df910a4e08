namespace Hermes.Domain;

/// <summary>One message waiting for (or done with) delivery to the n8n webhook: a row of <c>hermes_outbox</c>.</summary>
public sealed class OutboxMessage
{
    /// <summary>A lead to deliver (<see cref="WebhookPayload"/>).</summary>
    public const string LeadSubmittedType = "lead.submitted";

    /// <summary>A lead's erasure to pass on to the CRM (<see cref="ErasurePayload"/>).</summary>
    public const string LeadErasedType = "lead.erased";

    public long Id { get; set; }

    /// <summary>The lead's <see cref="Domain.Lead.BackupId"/> (column <c>lead_id</c>).</summary>
    public long BackupId { get; set; }

    public string Type { get; set; } = LeadSubmittedType;

    /// <summary>The webhook body, frozen as JSON when the lead was written.</summary>
    public required string Payload { get; set; }

    public OutboxStatus Status { get; set; } = OutboxStatus.Pending;

    /// <summary>Attempts claimed so far in this replay generation.</summary>
    public int Attempts { get; set; }

    /// <summary>When the row may be claimed next; while claimed, the end of the lease.</summary>
    public DateTimeOffset AvailableAt { get; set; }

    /// <summary>The worker that claimed the row last.</summary>
    public string? LockedBy { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? DeliveredAt { get; set; }
    public string? LastError { get; set; }
    public int? LastStatusCode { get; set; }

    /// <summary>How many times an operator reset this row to pending.</summary>
    public int ReplayCount { get; set; }

    /// <summary>W3C trace context of the submission, continued by the worker.</summary>
    public string? Traceparent { get; set; }

    /// <summary>
    /// How the current replay generation's attempts failed (<see cref="FailureClasses"/>): <c>outage</c> while every
    /// failure was an outage, <c>content</c> once one was not; null before the first failure.
    /// </summary>
    public string? FailureClass { get; set; }

    /// <summary>When the row gave up (became failed), by the database's clock.</summary>
    public DateTimeOffset? FailedAt { get; set; }

    /// <summary>The replay generation the automatic recovery made; null while the system never recovered the row.</summary>
    public int? AutoRecoveredGeneration { get; set; }

    public Lead? Lead { get; set; }
}
