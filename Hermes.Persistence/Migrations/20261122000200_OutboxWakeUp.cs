using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Hermes.Persistence.Migrations;

/// <summary>
/// Wakes the workers when there is something to deliver: a <c>NOTIFY hermes_outbox</c> on commit of new rows
/// and of rows put back to pending (a replay). Claims also update rows, so the update trigger fires only
/// for a transition into <c>pending</c>. PostgreSQL folds identical notifications of one transaction into one.
/// </summary>
[DbContext(typeof(HermesDbContext))]
[Migration("20261122000200_OutboxWakeUp")]
public sealed class OutboxWakeUp : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            CREATE FUNCTION hermes_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $fn$
            BEGIN
                PERFORM pg_notify('hermes_outbox', '');
                RETURN NULL;
            END
            $fn$;
            """);
        migrationBuilder.Sql("""
            CREATE TRIGGER hermes_outbox_notify_insert AFTER INSERT ON hermes_outbox
                FOR EACH STATEMENT EXECUTE FUNCTION hermes_outbox_notify();
            """);
        migrationBuilder.Sql("""
            CREATE TRIGGER hermes_outbox_notify_requeue AFTER UPDATE OF status ON hermes_outbox
                FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status AND NEW.status = 'pending')
                EXECUTE FUNCTION hermes_outbox_notify();
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("DROP TRIGGER hermes_outbox_notify_requeue ON hermes_outbox;");
        migrationBuilder.Sql("DROP TRIGGER hermes_outbox_notify_insert ON hermes_outbox;");
        migrationBuilder.Sql("DROP FUNCTION hermes_outbox_notify();");
    }
}
