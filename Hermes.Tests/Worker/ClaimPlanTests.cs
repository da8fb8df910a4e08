using System.Text.Json;
using Hermes.Persistence.Outbox;
using Hermes.Tests.Infrastructure;
using Npgsql;

namespace Hermes.Tests.Worker;

/// <summary>
/// The claim reads only the rows it takes, whatever the statistics say. An outbox is a queue: the share of pending rows
/// swings from none to all between two ANALYZEs. The sustained benchmark (bench/RESULTS.md) stalled for a minute when
/// autovacuum's ANALYZE had seen almost no pending row and a backlog built up after it: the planner, expecting one
/// pending row, fetched every pending row through another index, joined each to its lead and sorted them all, for each
/// batch of 32 (then the default) — 0.3 to 1.6 s a claim, so the backlog grew and each claim took longer, until the next ANALYZE.
/// </summary>
public sealed class ClaimPlanTests : WorkerTest
{
    private const int Delivered = 20_000;
    private const int Backlog = 4_000;
    // The claim as the worker makes it by default.
    private const int Batch = Hermes.Outbox.Worker.Delivery.OutboxOptions.DefaultBatchSize;

    // Rows pending when ANALYZE ran, as under a steady flow of submissions.
    private const int Steady = 3;

    [Test]
    public async Task A_backlog_that_built_up_after_the_last_analyze_is_claimed_from_the_pending_index_in_its_order()
    {
        // The state autovacuum left: a large outbox of delivered rows, analyzed while almost nothing was pending.
        await ExecuteAsync("ALTER TABLE hermes_outbox SET (autovacuum_enabled = false)");
        await ExecuteAsync("ALTER TABLE hermes_leads SET (autovacuum_enabled = false)");
        var template = (await InsertLeadsAsync(1))[0].Lead.BackupId;
        await CopyLeadsAsync(template, Delivered - 1, "now() - interval '1 day'");
        // Each claim moves its row within the pending index (available_at is its key: a new entry elsewhere), and the
        // index grows loose; an index keyed by what a claim leaves alone (the former idx_hermes_outbox_undelivered:
        // status, created_at) stays dense, its old entries cleared by bottom-up deletion, and the planner prefers it.
        await ExecuteAsync($"UPDATE hermes_outbox SET status = 'delivered', delivered_at = now(), locked_by = NULL WHERE id > {Steady}");
        for (var round = 0; round < 300; round++)
        {
            await ExecuteAsync("UPDATE hermes_outbox SET available_at = now() + random() * interval '5 minutes', attempts = attempts + 1 WHERE status = 'pending'");
        }

        await ExecuteAsync("UPDATE hermes_outbox SET available_at = now() - interval '1 day', locked_by = NULL WHERE status = 'pending'");
        await ExecuteAsync("VACUUM ANALYZE hermes_outbox, hermes_leads");

        // Then an outage's backlog, not yet analyzed.
        await CopyLeadsAsync(template, Backlog, "now() - interval '1 minute'");
        Assert.That(await ScalarAsync<long>("SELECT count(*) FROM hermes_outbox WHERE status = 'pending'"), Is.EqualTo(Backlog + Steady));

        var (plan, claimed) = await ExplainClaimAsync();
        // The CTE c is the claim's choice of rows; the UPDATE then finds each by primary key.
        var choice = QueryPlan.Nodes(plan).Single(static n => n.TryGetProperty("Subplan Name", out var name) && name.GetString() == "CTE c");
        var outboxScan = QueryPlan.Nodes(choice).Single(static n => n.TryGetProperty("Relation Name", out var r) && r.GetString() == "hermes_outbox");
        Assert.Multiple(() =>
        {
            Assert.That(claimed, Is.EqualTo(Batch), "the claim took a full batch");
            Assert.That(outboxScan.TryGetProperty("Index Name", out var index) ? index.GetString() : outboxScan.GetProperty("Node Type").GetString(),
                Is.EqualTo("idx_hermes_outbox_pending"), "the claim scans the queue's own index");
            Assert.That(outboxScan.GetProperty("Actual Rows").GetInt64(), Is.LessThanOrEqualTo(Batch * 2),
                $"rows the claim read from the outbox to take {Batch}, of {Backlog + Steady} pending");
            Assert.That(QueryPlan.Nodes(plan).Any(static n => n.GetProperty("Node Type").GetString() == "Sort"), Is.False, "nothing to sort: the index gives the queue's order");
        });
    }

    /// <summary>
    /// <paramref name="count"/> more leads like <paramref name="template"/>, each with a pending outbox row due at
    /// <paramref name="availableAt"/>, written by SQL (EF would take minutes for this many).
    /// </summary>
    private async Task CopyLeadsAsync(long template, int count, string availableAt)
    {
        var columns = await ScalarAsync<string>("""
            SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position)
            FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = 'hermes_leads'
              AND column_name NOT IN ('id', 'lead_id', 'idempotency_key') AND is_generated = 'NEVER'
            """);
        await ExecuteAsync($"""
            WITH l AS (
                INSERT INTO hermes_leads (lead_id, {columns})
                SELECT 'lead_plan' || lpad((g + coalesce((SELECT max(id) FROM hermes_leads), 0))::text, 21, '0'), {columns}
                FROM hermes_leads, generate_series(1, {count}) g
                WHERE id = {template}
                RETURNING id)
            INSERT INTO hermes_outbox (lead_id, payload, available_at, created_at)
            SELECT id, jsonb_build_object('id', 'msg_' || id), {availableAt}, clock_timestamp() FROM l
            """);
    }

    /// <summary>The claim of <see cref="Batch"/> rows, run under EXPLAIN ANALYZE and rolled back: its plan and how many rows it took.</summary>
    private async Task<(JsonElement Plan, long Claimed)> ExplainClaimAsync()
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using var command = new NpgsqlCommand("EXPLAIN (ANALYZE, FORMAT JSON) " + OutboxStore.ClaimSql, connection, transaction);
        OutboxStore.AddClaimParameters(command.Parameters, Batch, TimeSpan.FromMinutes(5), "explain", null);
        using var document = JsonDocument.Parse((string)(await command.ExecuteScalarAsync())!);
        await transaction.RollbackAsync();
        var plan = document.RootElement[0].GetProperty("Plan").Clone();
        return (plan, plan.GetProperty("Actual Rows").GetInt64());
    }
}
