using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Hermes.Persistence.Migrations;

/// <summary>
/// The insert trigger stays quiet for transactions that wake the workers themselves: the API's, which set
/// <c>hermes.outbox_wakeup = deferred</c> for the transaction and send one coalesced <c>NOTIFY</c> per burst of
/// commits. A transaction that queues a notification takes a database-wide lock through its commit, which cost a
/// third to a half of the insert rate under concurrency (bench/RESULTS.md). Every other writer — SQL,
/// <c>worker seed</c>, a restore — still notifies from the trigger, and a replay's requeue trigger is unchanged.
/// The rule, the setting and the notifier are stated and implemented in <c>Hermes.Persistence.Outbox.OutboxNotifier</c>.
/// </summary>
[DbContext(typeof(HermesDbContext))]
[Migration("20261202000100_CoalescedWakeUp")]
public sealed class CoalescedWakeUp : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("DROP TRIGGER hermes_outbox_notify_insert ON hermes_outbox;");
        migrationBuilder.Sql("""
            CREATE TRIGGER hermes_outbox_notify_insert AFTER INSERT ON hermes_outbox
                FOR EACH STATEMENT
                WHEN (current_setting('hermes.outbox_wakeup', true) IS DISTINCT FROM 'deferred')
                EXECUTE FUNCTION hermes_outbox_notify();
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("DROP TRIGGER hermes_outbox_notify_insert ON hermes_outbox;");
        migrationBuilder.Sql("""
            CREATE TRIGGER hermes_outbox_notify_insert AFTER INSERT ON hermes_outbox
                FOR EACH STATEMENT EXECUTE FUNCTION hermes_outbox_notify();
            """);
    }
}
