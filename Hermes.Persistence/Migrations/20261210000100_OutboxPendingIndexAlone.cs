using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Hermes.Persistence.Migrations;

/// <summary>
/// <c>idx_hermes_outbox_pending</c> becomes the only index that holds pending rows. An outbox is a queue: the share of
/// its rows that are pending swings from none to all between two ANALYZEs. <c>idx_hermes_outbox_undelivered</c>
/// (<c>status, created_at WHERE status &lt;&gt; 'delivered'</c>) held them too, and stayed dense where the queue's own index
/// grows loose (a claim moves a row within the pending index, never within the other), so after an ANALYZE that had
/// seen almost no pending row the planner fetched a whole backlog through it, joined each row to its lead and sorted
/// them, for each claim of 32: 0.3–1.6 s a claim in the sustained benchmark, a minute-long stall until the next ANALYZE
/// (bench/RESULTS.md). It is replaced by <c>idx_hermes_outbox_stopped</c> over the failed and cancelled rows, the
/// statuses it was read for; the pending index carries <c>created_at</c> (INCLUDE), so that the oldest pending row's
/// age is still read from one index. Down restores both as they were.
/// </summary>
[DbContext(typeof(HermesDbContext))]
[Migration("20261210000100_OutboxPendingIndexAlone")]
public sealed class OutboxPendingIndexAlone : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) =>
        Rebuild(migrationBuilder, pendingCarriesCreatedAt: true,
            drop: "idx_hermes_outbox_undelivered", create: "idx_hermes_outbox_stopped", filter: "status IN ('failed', 'cancelled')");

    protected override void Down(MigrationBuilder migrationBuilder) =>
        Rebuild(migrationBuilder, pendingCarriesCreatedAt: false,
            drop: "idx_hermes_outbox_stopped", create: "idx_hermes_outbox_undelivered", filter: "status <> 'delivered'");

    // The pending index again (with or without created_at), and the (status, created_at) index of the other statuses.
    private static void Rebuild(MigrationBuilder migrationBuilder, bool pendingCarriesCreatedAt, string drop, string create, string filter)
    {
        migrationBuilder.DropIndex(name: "idx_hermes_outbox_pending", table: "hermes_outbox");
        migrationBuilder.DropIndex(name: drop, table: "hermes_outbox");

        var pending = migrationBuilder.CreateIndex(
            name: "idx_hermes_outbox_pending",
            table: "hermes_outbox",
            columns: ["available_at", "id"],
            filter: "status = 'pending'");
        if (pendingCarriesCreatedAt)
        {
            pending.Annotation("Npgsql:IndexInclude", new[] { "created_at" });
        }

        migrationBuilder.CreateIndex(name: create, table: "hermes_outbox", columns: ["status", "created_at"], filter: filter);
    }
}
