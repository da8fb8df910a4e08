using System.Text.Json;
using Hermes.Persistence.Outbox;
using Hermes.Tests.Infrastructure;
using Npgsql;

namespace Hermes.Tests.Worker;

/// <summary>
/// The claim's scan floor (<see cref="ScanFloor"/>): a claim from the floor takes only rows from that place in the
/// queue on, and reports where its batch began; a full scan takes what was left behind; with the xmin horizon held
/// back, the floor is what spares a claim the walk past every row claimed since, also when the whole backlog shares one
/// <c>available_at</c> (one transaction wrote it); and a worker draining a backlog still delivers a row it skipped while
/// its lead was locked.
/// </summary>
public sealed class ScanFloorTests : WorkerTest
{
    [Test]
    public async Task A_claim_from_the_floor_takes_rows_due_from_it_and_a_full_scan_takes_the_row_left_behind()
    {
        await InsertLeadsAsync(6);
        // Six places in the queue, a minute apart, oldest first by id.
        await ExecuteAsync("UPDATE hermes_outbox o SET available_at = now() - (7 - r.n) * interval '1 minute' FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM hermes_outbox) r WHERE r.id = o.id");
        var places = await PlacesAsync();
        var store = new OutboxStore(DataSource);

        var (first, firstFloor) = await store.ClaimAsync(2, TimeSpan.FromMinutes(5), "w", null, CancellationToken.None);
        var (fromFourth, fourthFloor) = await store.ClaimAsync(10, TimeSpan.FromMinutes(5), "w", places[3], CancellationToken.None);
        var (rest, restFloor) = await store.ClaimAsync(10, TimeSpan.FromMinutes(5), "w", null, CancellationToken.None);
        var (none, noFloor) = await store.ClaimAsync(10, TimeSpan.FromMinutes(5), "w", null, CancellationToken.None);

        Assert.Multiple(async () =>
        {
            Assert.That(first.Select(static m => m.Id), Is.EqualTo(places.Take(2).Select(static p => p.Id)));
            Assert.That(firstFloor, Is.EqualTo(places[0]), "the floor is where the batch began, as stored before the claim");
            Assert.That(fromFourth.Select(static m => m.Id), Is.EqualTo(places.Skip(3).Select(static p => p.Id)), "the third row lies behind the floor");
            Assert.That(fourthFloor, Is.EqualTo(places[3]));
            Assert.That(rest.Select(static m => m.Id), Is.EqualTo(new[] { places[2].Id }), "a full scan takes the row left behind");
            Assert.That(restFloor, Is.EqualTo(places[2]));
            Assert.That(none, Is.Empty);
            Assert.That(noFloor, Is.Null);
            Assert.That(await ScalarAsync<string>("SELECT string_agg(attempts::text, ',' ORDER BY id) FROM hermes_outbox"), Is.EqualTo("1,1,1,1,1,1"), "each row claimed once");
        });
    }

    [Test]
    public async Task Rows_that_share_one_available_at_are_placed_by_id()
    {
        await InsertLeadsAsync(5);
        await ExecuteAsync("UPDATE hermes_outbox SET available_at = now() - interval '1 minute'");
        var places = await PlacesAsync();
        var store = new OutboxStore(DataSource);

        var (fromThird, floor) = await store.ClaimAsync(10, TimeSpan.FromMinutes(5), "w", places[2], CancellationToken.None);
        var (rest, _) = await store.ClaimAsync(10, TimeSpan.FromMinutes(5), "w", null, CancellationToken.None);

        Assert.Multiple(() =>
        {
            Assert.That(places.Select(static p => p.AvailableAt).Distinct().Count(), Is.EqualTo(1));
            Assert.That(fromThird.Select(static m => m.Id), Is.EqualTo(places.Skip(2).Select(static p => p.Id)), "from the third place on, by id");
            Assert.That(floor, Is.EqualTo(places[2]));
            Assert.That(rest.Select(static m => m.Id), Is.EqualTo(places.Take(2).Select(static p => p.Id)), "the two before the floor, by a full scan");
        });
    }

    [Test]
    public async Task With_the_xmin_horizon_held_a_claim_from_the_floor_reads_a_fraction_of_the_pages_a_full_scan_reads()
    {
        const int claimed = 400;
        await InsertLeadsAsync(claimed + 20);
        // One available_at for the whole backlog, as one transaction (or one group commit) writes it: the floor's place
        // is told apart by id.
        await ExecuteAsync("UPDATE hermes_outbox SET available_at = now() - interval '1 hour'");
        await ExecuteAsync("VACUUM ANALYZE hermes_outbox");
        var places = await PlacesAsync();

        // A transaction that holds its snapshot, as a long report would: vacuum cannot remove what it might still see.
        await using var holder = await DataSource.OpenConnectionAsync();
        await using var snapshot = await holder.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
        await using (var look = new NpgsqlCommand("SELECT count(*) FROM hermes_outbox", holder, snapshot))
        {
            await look.ExecuteScalarAsync();
        }

        var store = new OutboxStore(DataSource);
        var (batch, _) = await store.ClaimAsync(claimed, TimeSpan.FromMinutes(5), "w", null, CancellationToken.None);
        Assert.That(batch, Has.Count.EqualTo(claimed));
        await ExecuteAsync("UPDATE hermes_outbox SET status = 'delivered', delivered_at = now(), locked_by = NULL WHERE locked_by = 'w'");

        var full = await ClaimBuffersAsync(null);
        var floored = await ClaimBuffersAsync(places[claimed]);

        Assert.That(full, Is.GreaterThan(floored * 5), $"pages read by a claim of 20: from the top {full}, from the floor {floored}");
        await snapshot.RollbackAsync();
    }

    [Test]
    public async Task A_worker_draining_a_backlog_delivers_the_row_it_skipped_while_its_lead_was_locked()
    {
        var rows = await InsertLeadsAsync(300);
        await ExecuteAsync("UPDATE hermes_outbox SET available_at = now() - interval '1 hour'");
        var oldest = rows[0];

        // An erase or a replay holding the oldest row's lead: every claim skips it while the floor moves on.
        await using var holder = await DataSource.OpenConnectionAsync();
        await using var transaction = await holder.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("SELECT id FROM hermes_leads WHERE id = $1 FOR UPDATE", holder, transaction) { Parameters = { new() { Value = oldest.Lead.BackupId } } })
        {
            await hold.ExecuteScalarAsync();
        }

        await using var worker = await StartWorkerAsync(new Dictionary<string, string?> { ["Outbox:BatchSize"] = "10", ["Outbox:Concurrency"] = "4" });
        await WaitUntilAsync(async () => await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'delivered'") == rows.Count - 1, "all but the held row are delivered");
        Assert.That(await ScalarAsync<string>("SELECT status FROM hermes_outbox WHERE id = $1", oldest.Message.Id), Is.EqualTo("pending"));

        await transaction.CommitAsync();
        await WaitForOutboxStatusAsync(oldest.Message.Id, "delivered");
        Assert.That(Receiver.Requests.Select(static r => JsonDocument.Parse(r.Body).RootElement.GetProperty("leadId").GetString()).Distinct().Count(), Is.EqualTo(rows.Count));
        Assert.That(Receiver.Count, Is.EqualTo(rows.Count), "each row sent once");
    }

    private async Task<List<ScanFloor>> PlacesAsync()
    {
        await using var command = DataSource.CreateCommand("SELECT id, available_at FROM hermes_outbox ORDER BY available_at, id");
        await using var reader = await command.ExecuteReaderAsync();
        var places = new List<ScanFloor>();
        while (await reader.ReadAsync())
        {
            places.Add(new ScanFloor(reader.GetFieldValue<DateTime>(1), reader.GetInt64(0)));
        }

        return places;
    }

    /// <summary>Shared buffers (hit and read) the claim's scan of the pending index touches for a batch of 20 from <paramref name="from"/>; rolled back.</summary>
    private async Task<long> ClaimBuffersAsync(ScanFloor? from)
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + (from is null ? OutboxStore.ClaimSql : OutboxStore.ClaimFromSql), connection, transaction);
        OutboxStore.AddClaimParameters(command.Parameters, 20, TimeSpan.FromMinutes(5), "explain", from);

        using var plan = JsonDocument.Parse((string)(await command.ExecuteScalarAsync())!);
        await transaction.RollbackAsync();
        var scan = QueryPlan.Nodes(plan.RootElement[0].GetProperty("Plan")).Single(static n => n.TryGetProperty("Index Name", out var name) && name.GetString() == "idx_hermes_outbox_pending");
        return scan.GetProperty("Shared Hit Blocks").GetInt64() + scan.GetProperty("Shared Read Blocks").GetInt64();
    }
}
