using System.Text.Json.Serialization;
using Hermes.Domain;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Hermes.Persistence.Operations;

/// <summary>The form as submitted (the seed's <c>ContactFormData</c>), with the API's camelCase field names.</summary>
public sealed record LeadFormData(
    string FirstName,
    string LastName,
    string Email,
    string Country,
    string PhoneNumber,
    string? UserRole,
    string ProblemDescription,
    string? CompanyName,
    string? CompanySize,
    string ServiceUrgency,
    bool AgreeToTerms,
    bool PrivacyConsent,
    bool? MarketingConsent,
    string Source);

public sealed record LeadRequestMetadata(string? UserAgent, string? IpAddress);

/// <summary>One outbox row as an operator reads it.</summary>
public sealed record OutboxRow(
    long Id,
    string LeadId,
    string Status,
    int Attempts,
    DateTimeOffset AvailableAt,
    string? LockedBy,
    DateTimeOffset CreatedAt,
    DateTimeOffset? DeliveredAt,
    string? LastError,
    int? LastStatusCode,
    int ReplayCount,
    string Type = OutboxMessage.LeadSubmittedType);

/// <summary>One POST to n8n, from <c>hermes_delivery_attempts</c>.</summary>
public sealed record DeliveryAttemptRecord(
    long OutboxId,
    int AttemptNumber,
    DateTimeOffset StartedAt,
    int DurationMs,
    int? StatusCode,
    string Outcome,
    string? Error,
    string? ResponseExcerpt,
    string? WorkerId);

/// <summary>
/// The seed's <c>LeadResponse</c> (<c>id</c>, <c>leadId</c>, <c>formData</c>, <c>status</c>, <c>n8nSuccess</c>,
/// <c>brevoContactId</c>, <c>createdAt</c>, "other fields"; the seed names the <see cref="BackupId"/> <c>id</c>) plus the lead's outbox rows and delivery history,
/// and, for an erased lead, where its erasure stands in the CRM (<see cref="CrmErasureState"/>, as <c>CrmErasureStateNames</c>
/// spells it; null before the erase) and when n8n confirmed it (<see cref="CrmErasedAt"/>).
/// </summary>
public sealed record LeadDetails(
    [property: JsonPropertyName("id")] long BackupId,
    string LeadId,
    LeadFormData FormData,
    string? Status,
    bool N8nSuccess,
    string? BrevoContactId,
    DateTimeOffset? CreatedAt,
    string? Priority,
    DateTimeOffset? N8nWebhookSentAt,
    DateTimeOffset? N8nResponseReceivedAt,
    string? N8nErrorMessage,
    DateTimeOffset? ProcessedAt,
    DateTimeOffset? ErasedAt,
    LeadRequestMetadata Metadata,
    IReadOnlyList<OutboxRow> Outbox,
    IReadOnlyList<DeliveryAttemptRecord> DeliveryAttempts,
    string? CrmErasureState = null,
    DateTimeOffset? CrmErasedAt = null);

/// <summary>A page of outbox rows, newest first; pass <see cref="NextCursor"/> as the cursor for the next page.</summary>
public sealed record OutboxPage(IReadOnlyList<OutboxRow> Items, long? NextCursor);

/// <summary>Reads for operators: a lead with its delivery history, and the outbox page by page.</summary>
public sealed class LeadHistory(NpgsqlDataSource dataSource)
{
    public const int MaxPageSize = 500;
    public const int DefaultPageSize = 50;

    public async Task<LeadDetails?> FindAsync(string leadId, CancellationToken cancellationToken)
    {
        await using var context = PersistenceExtensions.CreateContext(dataSource);
        var lead = await context.Leads.AsNoTracking().SingleOrDefaultAsync(l => l.LeadId == leadId, cancellationToken);
        if (lead is null)
        {
            return null;
        }

        var outbox = await context.Outbox.AsNoTracking().Where(o => o.BackupId == lead.BackupId).OrderBy(static o => o.Id).ToListAsync(cancellationToken);
        var attempts = await context.DeliveryAttempts.AsNoTracking().Where(a => a.BackupId == lead.BackupId)
            .OrderBy(static a => a.StartedAt).ThenBy(static a => a.Id).ToListAsync(cancellationToken);
        return new LeadDetails(
            lead.BackupId,
            lead.LeadId,
            new LeadFormData(lead.FirstName, lead.LastName, lead.Email, lead.Country, lead.PhoneNumber, lead.UserRole, lead.ProblemDescription,
                lead.CompanyName, lead.CompanySize, lead.ServiceUrgency, lead.AgreeToTerms, lead.PrivacyConsent, lead.MarketingConsent, lead.Source),
            lead.Status,
            lead.N8nSuccess ?? false,
            lead.BrevoContactId,
            lead.CreatedAt,
            lead.Priority,
            lead.N8nWebhookSentAt,
            lead.N8nResponseReceivedAt,
            lead.N8nErrorMessage,
            lead.ProcessedAt,
            lead.ErasedAt,
            new LeadRequestMetadata(lead.UserAgent, lead.IpAddress?.ToString()),
            [.. outbox.Select(o => ToRow(o, lead.LeadId))],
            [.. attempts.Select(static a => new DeliveryAttemptRecord(a.OutboxId, a.AttemptNumber, a.StartedAt, a.DurationMs, a.StatusCode, a.Outcome, a.Error, a.ResponseExcerpt, a.WorkerId))],
            lead.CrmErasure?.ToDatabase(),
            lead.CrmErasedAt);
    }

    /// <summary>
    /// Outbox rows, newest first, optionally of one status and created in [<paramref name="since"/>, <paramref name="until"/>)
    /// (the same time rule as <see cref="ReplayRequest"/>, so a list and the replay of "all failed since …" agree);
    /// <paramref name="cursor"/> is the last id of the previous page.
    /// </summary>
    public async Task<OutboxPage> ListOutboxAsync(
        OutboxStatus? status, long? cursor, int pageSize, CancellationToken cancellationToken, DateTimeOffset? since = null, DateTimeOffset? until = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pageSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pageSize, MaxPageSize);
        await using var context = PersistenceExtensions.CreateContext(dataSource);
        var query = context.Outbox.AsNoTracking();
        if (status is { } wanted)
        {
            query = query.Where(o => o.Status == wanted);
        }

        if (cursor is { } before)
        {
            query = query.Where(o => o.Id < before);
        }

        if (since is { } from)
        {
            query = query.Where(o => o.CreatedAt >= from.ToUniversalTime());
        }

        if (until is { } to)
        {
            query = query.Where(o => o.CreatedAt < to.ToUniversalTime());
        }

        var rows = await query.OrderByDescending(static o => o.Id).Take(pageSize + 1)
            .Select(static o => new { Row = o, PublicLeadId = o.Lead!.LeadId })
            .ToListAsync(cancellationToken);
        var items = rows.Take(pageSize).Select(static r => ToRow(r.Row, r.PublicLeadId)).ToList();
        return new OutboxPage(items, rows.Count > pageSize ? items[^1].Id : null);
    }

    private static OutboxRow ToRow(OutboxMessage o, string leadId) => new(
        o.Id, leadId, o.Status.ToDatabase(), o.Attempts, o.AvailableAt, o.LockedBy, o.CreatedAt, o.DeliveredAt, o.LastError, o.LastStatusCode, o.ReplayCount, o.Type);
}
