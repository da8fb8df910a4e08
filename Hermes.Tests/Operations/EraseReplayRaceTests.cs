using System.Net;
using System.Net.Http.Json;
using Hermes.Domain;
using Hermes.Persistence.Operations;
using Hermes.Tests.Worker;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;

namespace Hermes.Tests.Operations;

/// <summary>
/// A replay that runs while an erase of the same lead is open: the erase wins. The erase is held mid-transaction (after
/// it locked the lead and anonymised its outbox row, while it blanks the attempt log) by a trigger that waits for an
/// advisory lock the test holds; the replay starts while it waits; then the erase is let go.
/// </summary>
public sealed class EraseReplayRaceTests : OperationsTest
{
    private const long Gate = 7301;
    private const string AdminKey = "race-admin-key-0123456789abcdef0123456789abcdef0123456789abcdef";

    [SetUp]
    public Task HoldErasesAtTheAttemptLogAsync() => ExecuteAsync($"""
        CREATE OR REPLACE FUNCTION test_hold_erase() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_advisory_lock_shared({Gate}); PERFORM pg_advisory_unlock_shared({Gate}); RETURN NEW; END $$;
        DROP TRIGGER IF EXISTS test_hold_erase ON hermes_delivery_attempts;
        CREATE TRIGGER test_hold_erase BEFORE UPDATE ON hermes_delivery_attempts FOR EACH ROW EXECUTE FUNCTION test_hold_erase();
        """);

    [TearDown]
    public Task DropTheHoldAsync() => ExecuteAsync("DROP TRIGGER IF EXISTS test_hold_erase ON hermes_delivery_attempts; DROP FUNCTION IF EXISTS test_hold_erase()");

    [Test]
    public async Task A_replay_racing_an_erase_leaves_the_lead_erased_and_nothing_is_sent()
    {
        var lead = await AddLeadAsync(OutboxStatus.Failed);
        var erasure = new LeadErasure(DataSource);
        var replay = new OutboxReplay(DataSource);

        var (erased, replayed) = await RaceAsync(
            () => erasure.EraseAsync(new ErasureRequest(null, lead.LeadId), CancellationToken.None),
            () => replay.ReplayAsync(new ReplayRequest { Status = "failed", LeadIds = [lead.LeadId] }, CancellationToken.None));

        Assert.That(erased.Leads.Single().AlreadyErased, Is.False);
        Assert.That(replayed.Count, Is.Zero, "the replay found the lead erased once the erase committed");
        await AssertStaysErasedAndUnsentAsync(lead);
    }

    [Test]
    public async Task A_replay_racing_an_erase_through_the_admin_api_leaves_the_lead_erased_and_nothing_is_sent()
    {
        var lead = await AddLeadAsync(OutboxStatus.Failed);
        await using var factory = new WebApplicationFactory<Hermes.Admin.AdminProgram>().WithWebHostBuilder(builder =>
        {
            builder.UseSetting("DATABASE_URL", "");
            builder.UseSetting("ConnectionStrings:Hermes", ConnectionString);
            builder.UseSetting("HERMES_ADMIN_API_KEY", AdminKey);
        });
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", AdminKey);

        var (erase, replay) = await RaceAsync(
            () => client.PostAsJsonAsync("/api/admin/leads/erase", new { leadId = lead.LeadId }),
            () => client.PostAsJsonAsync("/api/admin/outbox/replay", new { status = "failed", leadIds = new[] { lead.LeadId } }));

        using (erase)
        using (replay)
        {
            Assert.That(erase.StatusCode, Is.EqualTo(HttpStatusCode.OK), await erase.Content.ReadAsStringAsync());
            Assert.That(replay.StatusCode, Is.EqualTo(HttpStatusCode.OK), await replay.Content.ReadAsStringAsync());
            var result = await replay.Content.ReadFromJsonAsync(OperationsJsonContext.Default.ReplayResult);
            Assert.That(result!.Count, Is.Zero);
        }

        await AssertStaysErasedAndUnsentAsync(lead);
    }

    /// <summary>Starts the erase, holds it at the attempt log, starts the replay, waits until the replay waits on a row lock, lets both finish.</summary>
    private async Task<(TErase Erase, TReplay Replay)> RaceAsync<TErase, TReplay>(Func<Task<TErase>> erase, Func<Task<TReplay>> replay)
    {
        await using var gate = await DataSource.OpenConnectionAsync();
        await using (var take = new NpgsqlCommand($"SELECT pg_advisory_lock({Gate})", gate))
        {
            await take.ExecuteNonQueryAsync();
        }

        Task<TErase> erasing;
        Task<TReplay> replaying;
        try
        {
            erasing = Task.Run(erase);
            await WaitUntilAsync(async () => await ScalarAsync<long>("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'advisory'") == 1,
                "the erase is held mid-transaction");
            replaying = Task.Run(replay);
            await WaitUntilAsync(async () => await ScalarAsync<long>("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event <> 'advisory'") == 1,
                "the replay waits for a row the erase holds");
            Assert.That(erasing.IsCompleted || replaying.IsCompleted, Is.False);
        }
        finally
        {
            await using var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({Gate})", gate);
            await release.ExecuteNonQueryAsync();
        }

        return (await erasing, await replaying);
    }

    /// <summary>The lead is erased, its row is not pending and was not replayed, and a worker started now sends nothing of it.</summary>
    private async Task AssertStaysErasedAndUnsentAsync(StoredLead lead)
    {
        Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_leads WHERE id = $1", lead.BackupId), Is.EqualTo(LeadStatus.Erased.ToDatabase()));
        Assert.That(await ScalarAsync<bool>("SELECT erased_at IS NOT NULL FROM hermes_leads WHERE id = $1", lead.BackupId), Is.True);
        Assert.That(await OutboxStatusAsync(lead.OutboxId), Is.EqualTo("failed"), "an erase cancels pending rows only; a failed row stays failed, never pending");
        Assert.That(await ScalarAsync<int>("SELECT replay_count FROM hermes_outbox WHERE id = $1", lead.OutboxId), Is.Zero);

        // One claim at a time, oldest first: had the erased lead's row been pending, it would be sent before this one.
        var control = await AddLeadAsync(OutboxStatus.Pending);
        await using var receiver = await WebhookReceiver.StartAsync();
        await using (var worker = await WorkerUnderTest.StartAsync(ConnectionString, receiver.Url, new Dictionary<string, string?> { ["Outbox:BatchSize"] = "1", ["Outbox:Concurrency"] = "1" }))
        {
            await WaitUntilAsync(async () => await OutboxStatusAsync(control.OutboxId) == "delivered", "the worker delivers the lead that came after");
        }

        Assert.That(receiver.Requests.Select(static r => r.WebhookId), Is.EqualTo(new[] { WebhookIds.MessageIdFor(control.LeadId) }), "the erased lead is never POSTed");
        Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_leads WHERE id = $1", lead.BackupId), Is.EqualTo(LeadStatus.Erased.ToDatabase()));
    }
}
