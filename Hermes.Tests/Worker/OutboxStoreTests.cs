using Hermes.Domain;
using Hermes.Persistence.Outbox;

namespace Hermes.Tests.Worker;

/// <summary>The outbox SQL itself: one round trip for a mixed batch, and the guards against stale claims.</summary>
public sealed class OutboxStoreTests : WorkerTest
{
    [Test]
    public async Task One_call_writes_deliveries_retries_failures_and_releases_of_a_whole_batch()
    {
        var rows = await InsertLeadsAsync(4);
        var store = new OutboxStore(DataSource);
        var claimed = await store.ClaimAsync(10, TimeSpan.FromMinutes(5), "w", CancellationToken.None);
        var now = DateTimeOffset.UtcNow;
        AttemptOutcome Outcome(int i, string kind) => new()
        {
            OutboxId = claimed[i].Id,
            BackupId = claimed[i].BackupId,
            Attempt = 1,
            Outcome = kind,
            StartedAt = now,
            FinishedAt = now.AddMilliseconds(25),
            StatusCode = kind == DeliveryOutcomes.Delivered ? 200 : 500,
            Error = kind == DeliveryOutcomes.Delivered ? null : "HTTP 500",
            RetryDelay = kind == DeliveryOutcomes.Retry ? TimeSpan.FromMinutes(3) : null,
            ResponseData = kind == DeliveryOutcomes.Delivered ? """{"id": 5}""" : null,
            BrevoContactId = kind == DeliveryOutcomes.Delivered ? "5" : null,
        };

        var changed = await store.CompleteAsync(
            [Outcome(0, DeliveryOutcomes.Delivered), Outcome(1, DeliveryOutcomes.Retry), Outcome(2, DeliveryOutcomes.Failed)],
            [new ReleasedClaim(claimed[3].Id, 1)],
            "w",
            CancellationToken.None);

        Assert.That(changed, Is.EqualTo(3));
        Assert.That(await ScalarAsync<string>("SELECT string_agg(status || ':' || attempts, ',' ORDER BY id) FROM hermes_outbox"), Is.EqualTo("delivered:1,pending:1,failed:1,pending:0"));
        Assert.That(await ScalarAsync<string>("SELECT string_agg(status || ':' || n8n_success, ',' ORDER BY id) FROM hermes_leads"), Is.EqualTo("forwarded:true,queued:false,delivery_failed:false,queued:false"));
        Assert.That(await ScalarAsync<double>("SELECT extract(epoch FROM available_at - now()) FROM hermes_outbox WHERE id = $1", rows[1].Message.Id), Is.InRange(170, 181));
        Assert.That(await ScalarAsync<bool>("SELECT available_at <= now() AND locked_by IS NULL FROM hermes_outbox WHERE id = $1", rows[3].Message.Id), Is.True);
        Assert.That(await ScalarAsync<int>("SELECT duration_ms FROM hermes_delivery_attempts WHERE outbox_id = $1", rows[0].Message.Id), Is.EqualTo(25));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_delivery_attempts"), Is.EqualTo(3), "a release is not an attempt");
    }

    [Test]
    public async Task Stale_retry_does_not_move_a_lease_another_worker_holds_but_a_late_delivery_is_recorded()
    {
        var rows = await InsertLeadsAsync(2);
        var store = new OutboxStore(DataSource);
        var stale = await store.ClaimAsync(10, TimeSpan.Zero, "slow", CancellationToken.None);
        var fresh = await store.ClaimAsync(10, TimeSpan.FromMinutes(5), "fast", CancellationToken.None);
        Assert.That(fresh, Has.Count.EqualTo(2), "the zero lease ended at once and both rows were taken again");
        var now = DateTimeOffset.UtcNow;

        var changed = await store.CompleteAsync(
        [
            new AttemptOutcome { OutboxId = stale[0].Id, BackupId = stale[0].BackupId, Attempt = 1, Outcome = DeliveryOutcomes.Retry, StartedAt = now, FinishedAt = now, StatusCode = 500, RetryDelay = TimeSpan.FromHours(1) },
            new AttemptOutcome { OutboxId = stale[1].Id, BackupId = stale[1].BackupId, Attempt = 1, Outcome = DeliveryOutcomes.Delivered, StartedAt = now, FinishedAt = now, StatusCode = 200 },
        ],
        [new ReleasedClaim(stale[0].Id, 1)],
        "slow",
        CancellationToken.None);

        Assert.That(changed, Is.EqualTo(1));
        Assert.That(await ScalarAsync<string>("SELECT locked_by || ':' || attempts FROM hermes_outbox WHERE id = $1", rows[0].Message.Id), Is.EqualTo("fast:2"), "the other worker's claim stands");
        Assert.That(await ScalarAsync<double>("SELECT extract(epoch FROM available_at - now()) FROM hermes_outbox WHERE id = $1", rows[0].Message.Id), Is.InRange(250, 301));
        Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_outbox WHERE id = $1", rows[1].Message.Id), Is.EqualTo("delivered"));
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_delivery_attempts WHERE worker_id = 'slow'"), Is.EqualTo(2), "both attempts are in the history");
    }

    [Test]
    public async Task Cancelled_row_is_not_revived_by_a_late_retry_but_a_late_delivery_is_the_truth()
    {
        var (lead, message) = await InsertLeadAsync();
        var (other, otherMessage) = await InsertLeadAsync();
        var store = new OutboxStore(DataSource);
        var claimed = await store.ClaimAsync(2, TimeSpan.FromMinutes(5), "w", CancellationToken.None);
        await ExecuteAsync("UPDATE hermes_outbox SET status = 'cancelled' WHERE id = ANY($1)", new[] { message.Id, otherMessage.Id });
        var now = DateTimeOffset.UtcNow;

        await store.CompleteAsync(
            [
                new AttemptOutcome { OutboxId = claimed[0].Id, BackupId = lead.BackupId, Attempt = 1, Outcome = DeliveryOutcomes.Retry, StartedAt = now, FinishedAt = now, StatusCode = 500, RetryDelay = TimeSpan.Zero },
                new AttemptOutcome { OutboxId = claimed[1].Id, BackupId = other.BackupId, Attempt = 1, Outcome = DeliveryOutcomes.Delivered, StartedAt = now, FinishedAt = now, StatusCode = 200, BrevoContactId = "77" },
            ],
            [],
            "w",
            CancellationToken.None);

        Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_outbox WHERE id = $1", message.Id), Is.EqualTo("cancelled"));
        Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_leads WHERE id = $1", lead.BackupId), Is.EqualTo(LeadStatus.Queued.ToDatabase()));
        // n8n has the lead: the row says so, and the contact id is kept (erasure relies on it, see the erasure race tests).
        Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_outbox WHERE id = $1", otherMessage.Id), Is.EqualTo("delivered"));
        Assert.That(await ScalarAsync<string>("SELECT brevo_contact_id FROM hermes_leads WHERE id = $1", other.BackupId), Is.EqualTo("77"));
    }

    [Test]
    public async Task Late_outcome_for_an_erased_lead_is_logged_without_its_error_or_response()
    {
        var (lead, message) = await InsertLeadAsync();
        var (other, _) = await InsertLeadAsync();
        var store = new OutboxStore(DataSource);
        var claimed = await store.ClaimAsync(2, TimeSpan.FromMinutes(5), "w", CancellationToken.None);
        // What erasure does to a lead whose delivery is in flight (LeadErasure): cancel the row, mark the lead.
        await ExecuteAsync("UPDATE hermes_outbox SET status = 'cancelled', locked_by = NULL WHERE id = $1", message.Id);
        await ExecuteAsync("UPDATE hermes_leads SET email = 'erased', status = 'erased', erased_at = now() WHERE id = $1", lead.BackupId);
        var now = DateTimeOffset.UtcNow;
        AttemptOutcome Failed(ClaimedMessage claim) => new()
        {
            OutboxId = claim.Id,
            BackupId = claim.BackupId,
            Attempt = 1,
            Outcome = DeliveryOutcomes.Retry,
            StartedAt = now,
            FinishedAt = now,
            StatusCode = 500,
            Error = "HTTP 500",
            ResponseExcerpt = "{\"echo\": \"ada@example.com\"}",
            RetryDelay = TimeSpan.FromMinutes(1),
        };

        await store.CompleteAsync([.. claimed.Select(Failed)], [], "w", CancellationToken.None);

        Assert.Multiple(async () =>
        {
            Assert.That(await ScalarAsync<string>("SELECT coalesce(error, '-') || '|' || coalesce(response_excerpt, '-') || '|' || status_code FROM hermes_delivery_attempts WHERE lead_id = $1", lead.BackupId), Is.EqualTo("-|-|500"), "the attempt is in the history, its content is not");
            Assert.That(await ScalarAsync<string>("SELECT error || '|' || response_excerpt FROM hermes_delivery_attempts WHERE lead_id = $1", other.BackupId), Is.EqualTo("HTTP 500|{\"echo\": \"ada@example.com\"}"), "a lead not erased keeps both");
            Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_outbox WHERE id = $1", message.Id), Is.EqualTo("cancelled"));
        });
    }

    [Test]
    public async Task Next_due_is_the_wait_until_the_earliest_pending_row()
    {
        var store = new OutboxStore(DataSource);
        Assert.That(await store.NextDueAsync(CancellationToken.None), Is.Null);

        var (_, message) = await InsertLeadAsync();
        await ExecuteAsync("UPDATE hermes_outbox SET available_at = now() + interval '90 seconds' WHERE id = $1", message.Id);

        Assert.That(await store.NextDueAsync(CancellationToken.None), Is.InRange(TimeSpan.FromSeconds(85), TimeSpan.FromSeconds(90)));
    }
}
