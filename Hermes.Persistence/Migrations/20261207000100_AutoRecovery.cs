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
/// The columns are outside <see cref="HermesDbContext"/>'s model on purpose, like the audit trail: only the outcome
/// writer's and the recovery's SQL write and read them (the native worker has no EF Core at all), and the API's
/// insert leaves them null.
/// </summary>
[DbContext(typeof(HermesDbContext))]
[Migration("20261207000100_AutoRecovery")]
public sealed class AutoRecovery : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql("""
        ALTER TABLE hermes_outbox
            ADD COLUMN failure_class text,
            ADD COLUMN failed_at timestamptz,
            ADD COLUMN auto_recovered_generation integer,
            ADD CONSTRAINT ck_hermes_outbox_failure_class CHECK (failure_class IN ('outage', 'content'));
        ALTER TABLE hermes_delivery_attempts
            ADD COLUMN failure_class text,
            ADD CONSTRAINT ck_hermes_delivery_attempts_failure_class CHECK (failure_class IN ('outage', 'content'));
        -- The recovery's candidates: few rows, found without reading the outbox.
        CREATE INDEX idx_hermes_outbox_outage_failed ON hermes_outbox (failed_at, id)
            WHERE status = 'failed' AND failure_class = 'outage' AND auto_recovered_generation IS NULL;

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

    // NOT VALID: entries the system appended stay (the trail is append-only); the narrower list holds for new ones.
    protected override void Down(MigrationBuilder migrationBuilder) => migrationBuilder.Sql("""
        DROP FUNCTION hermes_audit_auto_recover(text[], bigint, jsonb);
        ALTER TABLE hermes_audit DROP CONSTRAINT ck_hermes_audit_action;
        ALTER TABLE hermes_audit ADD CONSTRAINT ck_hermes_audit_action CHECK (action IN ('console_sign_in', 'console_sign_out', 'replay', 'replay_dry_run', 'erase', 'purge', 'seed', 'migrate')) NOT VALID;
        DROP INDEX idx_hermes_outbox_outage_failed;
        ALTER TABLE hermes_delivery_attempts DROP COLUMN failure_class;
        ALTER TABLE hermes_outbox DROP COLUMN failure_class, DROP COLUMN failed_at, DROP COLUMN auto_recovered_generation;
        """);
}
