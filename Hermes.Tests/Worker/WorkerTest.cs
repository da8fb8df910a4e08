using System.Diagnostics;
using Hermes.Domain;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Worker;

/// <summary>A worker test: a clean database and a fresh receiver per test, and helpers to arrange and wait.</summary>
public abstract class WorkerTest : DatabaseTest
{
    protected WebhookReceiver Receiver { get; private set; } = null!;

    [SetUp]
    public async Task StartReceiverAndCleanTablesAsync()
    {
        await ExecuteAsync("TRUNCATE hermes_delivery_attempts, hermes_outbox, hermes_leads RESTART IDENTITY CASCADE");
        Receiver = await WebhookReceiver.StartAsync();
    }

    [TearDown]
    public async Task StopReceiverAsync() => await Receiver.DisposeAsync();

    protected Task<WorkerUnderTest> StartWorkerAsync(IDictionary<string, string?>? settings = null, TimeSpan? shutdownTimeout = null, Uri? webhook = null) =>
        WorkerUnderTest.StartAsync(ConnectionString, webhook ?? Receiver.Url, settings, shutdownTimeout);

    /// <summary>Stores leads and their outbox rows through EF, as the API does.</summary>
    protected async Task<IReadOnlyList<(Lead Lead, OutboxMessage Message)>> InsertLeadsAsync(int count = 1, string? traceparent = null, int replayCount = 0)
    {
        await using var db = CreateContext();
        var leads = Enumerable.Range(0, count).Select(i => Lead.FromSubmission(TestData.ValidSubmission($"lead{i}@example.com"), LeadIdentifier.New())).ToList();
        db.Leads.AddRange(leads);
        await db.SaveChangesAsync();
        var messages = leads.Select(lead => new OutboxMessage
        {
            LeadId = lead.Id,
            Payload = WebhookPayload.For(lead).ToJson(),
            Traceparent = traceparent,
            ReplayCount = replayCount,
        }).ToList();
        db.Outbox.AddRange(messages);
        await db.SaveChangesAsync();
        return [.. leads.Zip(messages)];
    }

    protected async Task<(Lead Lead, OutboxMessage Message)> InsertLeadAsync(string? traceparent = null, int replayCount = 0) =>
        (await InsertLeadsAsync(1, traceparent, replayCount))[0];

    protected Task WaitForOutboxStatusAsync(long outboxId, string status, TimeSpan? timeout = null) =>
        WaitUntilAsync(async () => await ScalarAsync<string>("SELECT status FROM hermes_outbox WHERE id = $1", outboxId) == status, $"outbox row {outboxId} is {status}", timeout);

    protected Task WaitForAllDeliveredAsync(int count, TimeSpan? timeout = null) =>
        WaitUntilAsync(async () => await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'delivered'") >= count, $"{count} rows are delivered", timeout);
}
