using System.Diagnostics;
using Hermes.Domain;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Worker;

/// <summary>A worker test: a clean database and a fresh receiver per test, and helpers to arrange and wait.</summary>
public abstract class WorkerTest : DatabaseTest
{
    private static readonly System.Text.UTF8Encoding StrictUtf8 = new(false, true);

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
            BackupId = lead.BackupId,
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

    /// <summary>Every text column Hermes writes from an answer reads back, is storable, and its JSON is valid jsonb.</summary>
    protected async Task AssertAllTextReadsBackAsync()
    {
        await using var command = DataSource.CreateCommand("""
            SELECT n8n_response_data::text, n8n_error_message, brevo_contact_id FROM hermes_leads
            UNION ALL SELECT last_error, NULL, NULL FROM hermes_outbox
            UNION ALL SELECT error, response_excerpt, worker_id FROM hermes_delivery_attempts
            """);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = 0;
        while (await reader.ReadAsync())
        {
            rows++;
            for (var i = 0; i < reader.FieldCount; i++)
            {
                if (!reader.IsDBNull(i))
                {
                    var text = reader.GetString(i);
                    Assert.That(SafeText.IsStorable(text), Is.True);
                    Assert.That(() => StrictUtf8.GetBytes(text), Throws.Nothing);
                }
            }
        }

        Assert.That(rows, Is.Positive);
    }
}
