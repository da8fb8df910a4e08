namespace Hermes.Domain;

/// <summary>One message waiting for (or done with) delivery to the n8n webhook: a row of <c>hermes_outbox</c>.</summary>
public sealed class OutboxMessage
{
    public const string LeadSubmittedType = "lead.submitted";

    public long Id { get; set; }

    /// <summary>The lead's incremental id (<c>hermes_leads.id</c>).</summary>
    public long LeadId { get; set; }

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

    public Lead? Lead { get; set; }
}

/// <summary>The states of an outbox row. See docs/architecture.md, "Outbox state machine".</summary>
public enum OutboxStatus
{
    /// <summary>Waiting, retrying, or leased by a worker (then <see cref="OutboxMessage.AvailableAt"/> is the lease end).</summary>
    Pending,

    /// <summary>n8n answered 2xx.</summary>
    Delivered,

    /// <summary>Gave up: the last attempt failed, or n8n answered 410 Gone. An operator may replay it.</summary>
    Failed,

    /// <summary>Will not be sent, for example because the lead was erased.</summary>
    Cancelled,
}

public static class OutboxStatusNames
{
    public static string ToDatabase(this OutboxStatus status) => status switch
    {
        OutboxStatus.Pending => "pending",
        OutboxStatus.Delivered => "delivered",
        OutboxStatus.Failed => "failed",
        OutboxStatus.Cancelled => "cancelled",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    public static OutboxStatus Parse(string value) => value switch
    {
        "pending" => OutboxStatus.Pending,
        "delivered" => OutboxStatus.Delivered,
        "failed" => OutboxStatus.Failed,
        "cancelled" => OutboxStatus.Cancelled,
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "Unknown outbox status."),
    };

    public static bool TryParse(string? value, out OutboxStatus status)
    {
        switch (value)
        {
            case "pending": status = OutboxStatus.Pending; return true;
            case "delivered": status = OutboxStatus.Delivered; return true;
            case "failed": status = OutboxStatus.Failed; return true;
            case "cancelled": status = OutboxStatus.Cancelled; return true;
            default: status = default; return false;
        }
    }
}
