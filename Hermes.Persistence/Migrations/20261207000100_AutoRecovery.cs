using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Hermes.Persistence.Migrations;

/// <summary>
/// Automatic recovery after an outage (<c>Outbox:AutoRecover</c>, <see cref="Operations.OutboxAutoRecovery"/>). Each
/// failed attempt is classified when it is written (<c>failure_class</c>: <c>outage</c> for no answer, a timeout or
/// 502/503/504; <c>content</c> for everything else), on the attempt log and, for the row's current replay generation,
/// on the outbox row (<c>content</c> wins: one content failure makes the generation a content failure); the row
/// records when it gave up (<c>failed_at</c>) and which replay generation the system made
/// (<c>auto_recovered_generation</c>, so a row is recovered automatically at most once). The audit action
/// <c>auto_recover</c> joins the trail's list, and <c>hermes_audit_auto_recover(...)</c> (SECURITY DEFINER) lets the
/// worker append exactly that entry, as <c>system:auto-recover</c>, without INSERT on the trail.
/// The columns are in <see cref="HermesDbContext"/>'s model (the schema drift test holds every column of the EF
/// tables); only the outcome writer's and the recovery's SQL write them.
/// </summary>
[DbContext(typeof(HermesDbContext))]
[Migration("20261207000100_AutoRecovery")]
public sealed class AutoRecovery : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        migrationBuilder.AddColumn<int>(
            name: "auto_recovered_generation",
            table: "hermes_outbox",
            type: "integer",
            nullable: true);

        migrationBuilder.AddColumn<DateTimeOffset>(
            name: "failed_at",
            table: "hermes_outbox",
            type: "timestamp with time zone",
            nullable: true);

        migrationBuilder.AddColumn<string>(
            name: "failure_class",
            table: "hermes_outbox",
            type: "character varying(10)",
            maxLength: 10,
            nullable: true);

        migrationBuilder.AddColumn<string>(
            name: "failure_class",
            table: "hermes_delivery_attempts",
            type: "character varying(10)",
            maxLength: 10,
            nullable: true);

        migrationBuilder.CreateIndex(
            name: "idx_hermes_outbox_outage_failed",
            table: "hermes_outbox",
            columns: ["failed_at", "id"],
            filter: "status = 'failed' AND failure_class = 'outage' AND auto_recovered_generation IS NULL");

        migrationBuilder.AddCheckConstraint(
            name: "ck_hermes_outbox_failure_class",
            table: "hermes_outbox",
            sql: "failure_class IN ('outage', 'content')");

        migrationBuilder.AddCheckConstraint(
            name: "ck_hermes_delivery_attempts_failure_class",
            table: "hermes_delivery_attempts",
            sql: "failure_class IN ('outage', 'content')");

        migrationBuilder.Sql("""
            ALTER TABLE hermes_audit DROP CONSTRAINT ck_hermes_audit_action;
            ALTER TABLE hermes_audit ADD CONSTRAINT ck_hermes_audit_action CHECK (action IN ('console_sign_in', 'console_sign_out', 'replay', 'replay_dry_run', 'erase', 'purge', 'seed', 'migrate', 'auto_recover'));

            CREATE FUNCTION hermes_audit_auto_recover(lead_ids text[], lead_count bigint, detail jsonb) RETURNS bigint
            LANGUAGE sql SECURITY DEFINER AS $fn$
                INSERT INTO hermes_audit (actor, action, outcome, lead_ids, lead_count, detail)
                VALUES ('system:auto-recover', 'auto_recover', 'succeeded', lead_ids, lead_count, detail)
                RETURNING id
            $fn$;
            REVOKE ALL ON FUNCTION hermes_audit_auto_recover(text[], bigint, jsonb) FROM PUBLIC;
            DO $grant$
            BEGIN
                EXECUTE format('ALTER FUNCTION hermes_audit_auto_recover(text[], bigint, jsonb) SET search_path = %I, pg_temp', current_schema());
                IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hermes_worker') THEN
                    GRANT EXECUTE ON FUNCTION hermes_audit_auto_recover(text[], bigint, jsonb) TO hermes_worker;
                END IF;
            END
            $grant$;
        """);
    }

    protected override void Down(MigrationBuilder migrationBuilder)
    {
        // NOT VALID: entries the system appended stay (the trail is append-only); the narrower list holds for new ones.
        migrationBuilder.Sql("""
            DROP FUNCTION hermes_audit_auto_recover(text[], bigint, jsonb);
            ALTER TABLE hermes_audit DROP CONSTRAINT ck_hermes_audit_action;
            ALTER TABLE hermes_audit ADD CONSTRAINT ck_hermes_audit_action CHECK (action IN ('console_sign_in', 'console_sign_out', 'replay', 'replay_dry_run', 'erase', 'purge', 'seed', 'migrate')) NOT VALID;
        """);

        migrationBuilder.DropIndex(
            name: "idx_hermes_outbox_outage_failed",
            table: "hermes_outbox");

        migrationBuilder.DropCheckConstraint(
            name: "ck_hermes_outbox_failure_class",
            table: "hermes_outbox");

        migrationBuilder.DropCheckConstraint(
            name: "ck_hermes_delivery_attempts_failure_class",
            table: "hermes_delivery_attempts");

        migrationBuilder.DropColumn(
            name: "auto_recovered_generation",
            table: "hermes_outbox");

        migrationBuilder.DropColumn(
            name: "failed_at",
            table: "hermes_outbox");

        migrationBuilder.DropColumn(
            name: "failure_class",
            table: "hermes_outbox");

        migrationBuilder.DropColumn(
            name: "failure_class",
            table: "hermes_delivery_attempts");
    }
}
