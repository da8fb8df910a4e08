using Hermes.Cli;
using Hermes.Domain;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Operations;

/// <summary>A database test with helpers to arrange leads in every delivery state and to run the operator CLI in-process.</summary>
public abstract class OperationsTest : DatabaseTest
{
    [SetUp]
    public Task EmptyTablesAsync() => EmptyLeadTablesAsync();

    /// <summary>A stored lead with one outbox row in <paramref name="status"/>, written the way the API writes it, plus its attempt log.</summary>
    protected async Task<StoredLead> AddLeadAsync(
        OutboxStatus status = OutboxStatus.Pending, string? email = null, DateTimeOffset? createdAt = null, string? lockedBy = null, DateTimeOffset? availableAt = null)
    {
        var now = DateTimeOffset.UtcNow;
        var created = createdAt ?? now;
        if (created < now)
        {
            await AttemptDaysSinceAsync(created);
        }

        await using var context = CreateContext();
        await using var transaction = await context.Database.BeginTransactionAsync();
        var lead = Lead.FromSubmission(TestData.ValidSubmission(email), LeadIdentifier.New());
        lead.CreatedAt = created;
        lead.Status = status switch
        {
            OutboxStatus.Delivered => LeadStatus.Forwarded.ToDatabase(),
            OutboxStatus.Failed => LeadStatus.DeliveryFailed.ToDatabase(),
            _ => LeadStatus.Queued.ToDatabase(),
        };
        if (status == OutboxStatus.Delivered)
        {
            lead.N8nSuccess = true;
            lead.BrevoContactId = "brevo-" + lead.LeadId[^6..];
            lead.N8nResponseData = """{"brevoContactId": "42", "email": "ada@example.com"}""";
        }

        context.Leads.Add(lead);
        await context.SaveChangesAsync();
        var message = new OutboxMessage
        {
            BackupId = lead.BackupId,
            Payload = WebhookPayload.For(lead).ToJson(),
            Status = status,
            CreatedAt = created,
            AvailableAt = availableAt ?? created,
            LockedBy = lockedBy,
            Attempts = status == OutboxStatus.Failed ? 12 : status == OutboxStatus.Pending ? 0 : 1,
            DeliveredAt = status == OutboxStatus.Delivered ? created : null,
            LastError = status == OutboxStatus.Failed ? "HTTP 500 from n8n: ada@example.com rejected" : null,
            LastStatusCode = status == OutboxStatus.Failed ? 500 : status == OutboxStatus.Delivered ? 200 : null,
        };
        context.Outbox.Add(message);
        await context.SaveChangesAsync();
        if (status is OutboxStatus.Delivered or OutboxStatus.Failed)
        {
            context.DeliveryAttempts.Add(new DeliveryAttempt
            {
                OutboxId = message.Id,
                BackupId = lead.BackupId,
                AttemptNumber = 1,
                StartedAt = created,
                DurationMs = 120,
                StatusCode = status == OutboxStatus.Delivered ? 200 : 500,
                Outcome = status == OutboxStatus.Delivered ? DeliveryOutcomes.Delivered : DeliveryOutcomes.Failed,
                Error = status == OutboxStatus.Failed ? "n8n said: ada@example.com is invalid" : null,
                ResponseExcerpt = """{"email": "ada@example.com"}""",
                WorkerId = "worker-1",
            });
            await context.SaveChangesAsync();
        }

        await transaction.CommitAsync();
        return new StoredLead(lead.BackupId, lead.LeadId, message.Id);
    }

    protected Task<string> OutboxStatusAsync(long outboxId) => ScalarAsync<string>("SELECT status FROM hermes_outbox WHERE id = $1", outboxId);

    /// <summary>The CLI's settings for this class's database, with <paramref name="extra"/> on top.</summary>
    protected Dictionary<string, string?> CliSettings(params (string Key, string? Value)[] extra)
    {
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["DATABASE_URL"] = "",
            ["ConnectionStrings:Hermes"] = ConnectionString,
            ["ASPNETCORE_ENVIRONMENT"] = "Staging",
            ["DOTNET_ENVIRONMENT"] = "Staging",
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return settings;
    }

    protected Task<CliRun> CliAsync(params string[] args) => CliAsync(CliSettings(), args);

    protected static async Task<CliRun> CliAsync(IReadOnlyDictionary<string, string?> settings, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await OperatorCli.RunAsync(args, output, error, settings, CancellationToken.None);
        return new CliRun(exitCode, output.ToString(), error.ToString());
    }
}

public sealed record StoredLead(long BackupId, string LeadId, long OutboxId);

public sealed record CliRun(int ExitCode, string Output, string Error)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Output}\n--- stderr\n{Error}";
}
