using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Hermes.Persistence.Migrations;

/// <summary>
/// The audit trail (<c>hermes_audit</c>, <see cref="Operations.AuditTrail"/>): one row per operator action, appended in
/// the action's own transaction. Append-only in the database itself, whoever connects: a trigger refuses every
/// <c>UPDATE</c>, every <c>TRUNCATE</c>, and every <c>DELETE</c> but the one <c>hermes_audit_purge(interval)</c> runs;
/// that function (owned by the migrating login, <c>SECURITY DEFINER</c>) never deletes an entry younger than 30 days,
/// whatever it is asked. Like the console's key ring, it is not part of <see cref="HermesDbContext"/>'s model: it is
/// written and read with SQL only. <c>roles.sql</c> grants the same as the block below, which grants it where the roles
/// already exist so hosts upgraded before <c>migrate --roles</c> runs again can write it.
/// </summary>
[DbContext(typeof(HermesDbContext))]
[Migration("20261206000200_AuditTrail")]
public sealed class AuditTrail : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql("""
        CREATE TABLE hermes_audit (
            id bigint GENERATED ALWAYS AS IDENTITY,
            at timestamptz NOT NULL DEFAULT now(),
            actor text NOT NULL,
            db_login text NOT NULL DEFAULT session_user,
            action text NOT NULL,
            outcome text NOT NULL,
            lead_ids text[] NOT NULL DEFAULT '{}',
            lead_count bigint NOT NULL DEFAULT 0,
            detail jsonb NOT NULL DEFAULT '{}',
            CONSTRAINT pk_hermes_audit PRIMARY KEY (id),
            CONSTRAINT ck_hermes_audit_actor CHECK (actor ~ '^(key|cli|system):.{1,200}$'),
            CONSTRAINT ck_hermes_audit_action CHECK (action IN ('console_sign_in', 'console_sign_out', 'replay', 'replay_dry_run', 'erase', 'purge', 'seed', 'migrate')),
            CONSTRAINT ck_hermes_audit_outcome CHECK (outcome IN ('succeeded', 'refused')),
            CONSTRAINT ck_hermes_audit_lead_ids CHECK (cardinality(lead_ids) <= 1000)
        );
        CREATE INDEX ix_hermes_audit_at ON hermes_audit (at);
        CREATE INDEX ix_hermes_audit_lead_ids ON hermes_audit USING gin (lead_ids);

        CREATE FUNCTION hermes_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
            IF TG_OP = 'DELETE' AND current_setting('hermes.audit_purge', true) = 'on' THEN
                RETURN OLD;
            END IF;
            RAISE EXCEPTION 'hermes_audit is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege',
                      HINT = 'Entries leave only through hermes_audit_purge(interval), and never before they are 30 days old.';
        END
        $fn$;
        CREATE TRIGGER hermes_audit_no_update_or_delete BEFORE UPDATE OR DELETE ON hermes_audit
            FOR EACH ROW EXECUTE FUNCTION hermes_audit_append_only();
        CREATE TRIGGER hermes_audit_no_truncate BEFORE TRUNCATE ON hermes_audit
            FOR EACH STATEMENT EXECUTE FUNCTION hermes_audit_append_only();

        CREATE FUNCTION hermes_audit_purge(keep interval) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER AS $fn$
        DECLARE
            deleted bigint;
        BEGIN
            PERFORM set_config('hermes.audit_purge', 'on', true);
            DELETE FROM hermes_audit WHERE at < now() - greatest(keep, interval '30 days');
            GET DIAGNOSTICS deleted = ROW_COUNT;
            PERFORM set_config('hermes.audit_purge', 'off', true);
            RETURN deleted;
        END
        $fn$;

        REVOKE ALL ON hermes_audit FROM PUBLIC;
        REVOKE ALL ON FUNCTION hermes_audit_purge(interval) FROM PUBLIC;
        DO $grant$
        BEGIN
            -- A SECURITY DEFINER function resolves names in the schema the tables are in, never in one a caller made.
            EXECUTE format('ALTER FUNCTION hermes_audit_purge(interval) SET search_path = %I, pg_temp', current_schema());
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hermes_admin') THEN
                GRANT SELECT, INSERT ON hermes_audit TO hermes_admin;
            END IF;
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hermes_worker') THEN
                GRANT EXECUTE ON FUNCTION hermes_audit_purge(interval) TO hermes_worker;
            END IF;
        END
        $grant$;
        """);

    protected override void Down(MigrationBuilder migrationBuilder) => migrationBuilder.Sql("""
        DROP TABLE hermes_audit;
        DROP FUNCTION hermes_audit_purge(interval);
        DROP FUNCTION hermes_audit_append_only();
        """);
}
