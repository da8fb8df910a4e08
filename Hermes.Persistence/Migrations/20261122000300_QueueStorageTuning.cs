using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Hermes.Persistence.Migrations;

/// <summary>
/// Per-table storage and autovacuum settings for Hermes' busy tables, so every deployment that migrates gets them
/// (they used to be a separate script that only the compose file ran).
/// <para>
/// <c>hermes_outbox</c> is a queue: every row is inserted, claimed (an UPDATE of the indexed <c>available_at</c>,
/// so never a HOT update), updated again when delivered or retried, and deleted by the retention purge. The global
/// defaults (vacuum at 20% dead rows) would let a table of a few thousand live rows carry many times that in dead
/// tuples, and the claim's index scan would wade through them: vacuum it after about 1% (+500 rows) has changed,
/// with no cost throttling, and keep its statistics fresh. <c>fillfactor = 90</c> leaves room on each page for the
/// updates that can be HOT (<c>last_error</c>, <c>locked_by</c>, …); it applies to pages written from now on.
/// </para>
/// <para>
/// The attempt log is append-only until the purge deletes old rows in bulk: vacuum it after the purge (5% dead) and
/// after inserts (so index-only scans stay possible). Leads are inserted once and updated once and never purged:
/// only fresher statistics for the operator's status queries. Durability settings (fsync, synchronous_commit) are
/// server settings and are not touched.
/// </para>
/// </summary>
[DbContext(typeof(HermesDbContext))]
[Migration("20261122000300_QueueStorageTuning")]
public sealed class QueueStorageTuning : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            ALTER TABLE hermes_outbox SET (
                autovacuum_vacuum_scale_factor = 0.01,
                autovacuum_vacuum_threshold = 500,
                autovacuum_vacuum_insert_scale_factor = 0.05,
                autovacuum_analyze_scale_factor = 0.02,
                autovacuum_analyze_threshold = 500,
                autovacuum_vacuum_cost_delay = 0,
                fillfactor = 90);
            """);
        migrationBuilder.Sql("""
            ALTER TABLE hermes_delivery_attempts SET (
                autovacuum_vacuum_scale_factor = 0.05,
                autovacuum_vacuum_insert_scale_factor = 0.05,
                autovacuum_analyze_scale_factor = 0.05);
            """);
        migrationBuilder.Sql("ALTER TABLE hermes_leads SET (autovacuum_analyze_scale_factor = 0.05);");
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("ALTER TABLE hermes_leads RESET (autovacuum_analyze_scale_factor);");
        migrationBuilder.Sql("""
            ALTER TABLE hermes_delivery_attempts RESET (
                autovacuum_vacuum_scale_factor, autovacuum_vacuum_insert_scale_factor, autovacuum_analyze_scale_factor);
            """);
        migrationBuilder.Sql("""
            ALTER TABLE hermes_outbox RESET (
                autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, autovacuum_vacuum_insert_scale_factor,
                autovacuum_analyze_scale_factor, autovacuum_analyze_threshold, autovacuum_vacuum_cost_delay, fillfactor);
            """);
    }
}
