using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Hermes.Persistence.Migrations;

/// <summary>
/// Erasure that reaches the CRM: an erase queues a <c>lead.erased</c> outbox row, and the lead records where that
/// erasure stands in Brevo (<c>crm_erasure_state</c>, one of <c>CrmErasureStateNames</c>, null until the lead is
/// erased) and when n8n confirmed it (<c>crm_erased_at</c>). Text with a check constraint, as
/// <c>hermes_outbox.status</c> is, rather than a PostgreSQL enum type: the SQL renders the states as literals either
/// way, and a type of its own would need mapping in every data source (the native worker's too). A partial index
/// serves the doctor's look-up of erasures not confirmed. The worker's outcome writer records the confirmation and,
/// when an erased lead's late contact id arrives, queues the erasure itself: the worker role gets those two columns
/// and INSERT on the outbox, here where the roles already exist (<c>roles.sql</c> grants the same).
/// </summary>
[DbContext(typeof(HermesDbContext))]
[Migration("20261206000100_CrmErasure")]
public sealed class CrmErasure : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.AddColumn<DateTimeOffset>(
            name: "crm_erased_at",
            table: "hermes_leads",
            type: "timestamp with time zone",
            nullable: true);

        migrationBuilder.AddColumn<string>(
            name: "crm_erasure_state",
            table: "hermes_leads",
            type: "character varying(20)",
            maxLength: 20,
            nullable: true);

        migrationBuilder.CreateIndex(
            name: "idx_hermes_leads_crm_erasure_unconfirmed",
            table: "hermes_leads",
            column: "erased_at",
            filter: "crm_erasure_state IN ('awaiting_delivery', 'queued', 'failed')");

        migrationBuilder.AddCheckConstraint(
            name: "ck_hermes_leads_crm_erasure_state",
            table: "hermes_leads",
            sql: "crm_erasure_state IN ('not_needed', 'awaiting_delivery', 'queued', 'confirmed', 'failed', 'no_contact_id')");

        migrationBuilder.Sql("""
            DO $grant$
            BEGIN
                IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hermes_worker') THEN
                    GRANT SELECT (crm_erasure_state, crm_erased_at), UPDATE (crm_erasure_state, crm_erased_at) ON hermes_leads TO hermes_worker;
                    GRANT INSERT ON hermes_outbox TO hermes_worker;
                    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO hermes_worker', pg_get_serial_sequence('hermes_outbox', 'id'));
                END IF;
            END
            $grant$;
            """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.Sql("""
            DO $revoke$
            BEGIN
                IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hermes_worker') THEN
                    REVOKE INSERT ON hermes_outbox FROM hermes_worker;
                    EXECUTE format('REVOKE USAGE ON SEQUENCE %s FROM hermes_worker', pg_get_serial_sequence('hermes_outbox', 'id'));
                END IF;
            END
            $revoke$;
            """);

        migrationBuilder.DropIndex(
            name: "idx_hermes_leads_crm_erasure_unconfirmed",
            table: "hermes_leads");

        migrationBuilder.DropCheckConstraint(
            name: "ck_hermes_leads_crm_erasure_state",
            table: "hermes_leads");

        migrationBuilder.DropColumn(
            name: "crm_erased_at",
            table: "hermes_leads");

        migrationBuilder.DropColumn(
            name: "crm_erasure_state",
            table: "hermes_leads");
    }
}
