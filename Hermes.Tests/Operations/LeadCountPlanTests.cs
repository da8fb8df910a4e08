using System.Text.Json;
using Hermes.Persistence.Operations;
using Hermes.Tests.Infrastructure;

namespace Hermes.Tests.Operations;

/// <summary>
/// The console's overview counts the leads by status on every load. The count leaves the canaries out
/// (<c>WHERE NOT is_canary</c>), and once it did, it read the whole lead table, every column of every lead: the page
/// took 95 ms at the median and 133 ms at p95 with 100,000 leads (bench/console), over the console's bound of 100 ms,
/// and growing with the table. It reads the status index alone.
/// </summary>
public sealed class LeadCountPlanTests : DatabaseTest
{
    private const int Leads = 3_000;

    [Test]
    public async Task The_overviews_count_of_leads_by_status_reads_the_status_index_alone()
    {
        await new LeadSeeder(DataSource).SeedAsync(Leads, CancellationToken.None, randomSeed: 7);
        // As in a real table: most leads forwarded, some failed, a few still queued, one erased, and canaries. Committed
        // durably, as in production: the test cluster commits asynchronously, and until a commit is flushed no one may
        // mark its rows committed, nor VACUUM their pages all-visible, and an index-only scan would fetch every row.
        await ExecuteAsync("""
            BEGIN;
            SET LOCAL synchronous_commit = on;
            UPDATE hermes_leads SET status = CASE WHEN id % 20 = 1 THEN 'delivery_failed' WHEN id % 50 = 2 THEN 'queued'
                                                  WHEN id = 3 THEN 'erased' ELSE 'forwarded' END,
                                    is_canary = id % 500 = 4;
            COMMIT;
            """);
        // Then vacuum catches up, as autovacuum does: a VACUUM while another test's transaction is open elsewhere in the
        // cluster may leave pages unmarked, so it runs until every page is all-visible.
        await WaitUntilAsync(async () =>
        {
            await ExecuteAsync("VACUUM ANALYZE hermes_leads");
            return await ScalarAsync<bool>("SELECT relallvisible = relpages FROM pg_class WHERE oid = 'hermes_leads'::regclass");
        }, "VACUUM marked every page of hermes_leads all-visible", TimeSpan.FromSeconds(30),
            async () => await ScalarAsync<string>("SELECT format('%s of %s pages all-visible', relallvisible, relpages) FROM pg_class WHERE oid = 'hermes_leads'::regclass"));

        var plan = await ExplainAsync(DeliveryActivity.LeadsByStatusSql);
        var reads = QueryPlan.Nodes(plan).Where(static n => n.TryGetProperty("Relation Name", out var r) && r.GetString() == "hermes_leads").ToList();
        var report = await new DeliveryActivity(DataSource).ReadAsync(CancellationToken.None);
        var expected = await ExpectedCountsAsync();

        Assert.Multiple(() =>
        {
            Assert.That(reads.Select(static n => $"{n.GetProperty("Node Type").GetString()} {(n.TryGetProperty("Index Name", out var i) ? i.GetString() : "")}"),
                Is.EqualTo(new[] { "Index Only Scan idx_hermes_leads_status" }), "how the count reads the lead table");
            Assert.That(reads.Sum(static n => n.TryGetProperty("Heap Fetches", out var h) ? h.GetInt64() : 0), Is.Zero, "lead rows the count fetched");
            Assert.That(report.LeadsByStatus.Select(static s => $"{s.Status}={s.Count}"), Is.EqualTo(expected), "the counts the console shows");
        });
    }

    // The counts the shaping above makes, worked out here from the leads' ids: not the console's query run twice.
    private async Task<string[]> ExpectedCountsAsync()
    {
        var ids = new List<long>();
        await using var command = DataSource.CreateCommand("SELECT id FROM hermes_leads");
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetInt64(0));
        }

        return [.. ids.Where(static id => id % 500 != 4)
            .GroupBy(static id => id % 20 == 1 ? "delivery_failed" : id % 50 == 2 ? "queued" : id == 3 ? "erased" : "forwarded")
            .OrderByDescending(static g => g.Count()).ThenBy(static g => g.Key, StringComparer.Ordinal)
            .Select(static g => $"{g.Key}={g.Count()}")];
    }

    private async Task<JsonElement> ExplainAsync(string sql)
    {
        await using var command = DataSource.CreateCommand("EXPLAIN (ANALYZE, FORMAT JSON) " + sql);
        using var document = JsonDocument.Parse((string)(await command.ExecuteScalarAsync())!);
        return document.RootElement[0].GetProperty("Plan").Clone();
    }
}
