-- Hermes least-privilege roles. Idempotent: run it after every migration (`hermes-worker migrate --roles` does),
-- or by hand as the login that owns the Hermes tables (the one that runs `migrate`):
--
--     psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f deploy/postgres/roles.sql
--
-- It needs no superuser and no ALTER SYSTEM, so it runs on managed PostgreSQL (Neon, Supabase, RDS, Cloud SQL):
-- the owner needs CREATEROLE (Neon's and Supabase's default owner logins have it) for the three group roles, or a
-- DBA creates them once beforehand. The groups are NOLOGIN and hold the privileges; the logins the hosts use are
-- created OUTSIDE this script, with passwords that never enter the repository, and are made members:
--
--     CREATE ROLE hermes_api_login    LOGIN PASSWORD '...' IN ROLE hermes_api;     -- the API's DATABASE_URL
--     CREATE ROLE hermes_worker_login LOGIN PASSWORD '...' IN ROLE hermes_worker;  -- the worker's DATABASE_URL
--     CREATE ROLE hermes_admin_login  LOGIN PASSWORD '...' IN ROLE hermes_admin;   -- the CLI / admin API's DATABASE_URL
--
-- Roles:
--   owner          the login that runs migrations; owns the tables (not created here: it is whoever runs `migrate`).
--   hermes_api     INSERT leads and outbox rows; SELECT only the columns read back (RETURNING id/created_at and the
--                  Idempotency-Key look-up: lead_id, idempotency_key, request_hash). It cannot read anyone's
--                  name, email, phone or message, nor any outbox payload.
--   hermes_worker  claims and updates outbox rows, writes the attempt log, purges old rows (retention) and creates and
--                  drops the attempt log's day partitions through hermes_attempt_partitions_ensure/_drop, appends
--                  the automatic recovery's audit entry through hermes_audit_auto_recover (only that one), and
--                  UPDATEs only the tracking columns of hermes_leads (n8n_*, brevo_contact_id, status,
--                  processed_at, and the CRM erasure's state and time): it cannot change what a person submitted. It
--                  reads payloads, which it delivers, and erased_at, which keeps what it writes about an erased lead
--                  blank. It INSERTs outbox rows only for one reason: the lead.erased message of an erased lead whose
--                  Brevo contact id arrived after the erase (OutboxStore's outcome statement).
--   hermes_admin   the admin API and the operator CLI (history, replay, erase, purge, stats, doctor, seed), and the
--                  console's Data Protection key ring (hermes_console_keys: read and append; no other group reads it,
--                  since a key there forges console sessions), and the audit trail (hermes_audit: read and append).
--   All three read "__EFMigrationsHistory": readiness (/health/ready) checks that no migration is pending.
--
-- Every run revokes what the groups held on the Hermes tables and grants the list below afresh, so the result is
-- exactly this file whatever an earlier version granted.

DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['hermes_api', 'hermes_worker', 'hermes_admin'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- created meanwhile by a concurrent run: roles are cluster-wide
            END;
        END IF;
    END LOOP;
END
$roles$;

-- The tables live in the schema migrations created them in (public unless DATABASE_URL's ?schema= says otherwise).
DO $schema$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO hermes_api, hermes_worker, hermes_admin',
        (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.oid = 'hermes_leads'::regclass));
END
$schema$;

REVOKE ALL ON hermes_leads, hermes_outbox, hermes_delivery_attempts FROM PUBLIC;
REVOKE ALL ON hermes_leads, hermes_outbox, hermes_delivery_attempts FROM hermes_api, hermes_worker, hermes_admin;
-- The console's key ring (migration ConsoleKeyRing); absent before that migration.
DO $keyring$
BEGIN
    IF to_regclass('hermes_console_keys') IS NOT NULL THEN
        REVOKE ALL ON hermes_console_keys FROM PUBLIC, hermes_api, hermes_worker, hermes_admin;
        GRANT SELECT, INSERT ON hermes_console_keys TO hermes_admin;
        EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM PUBLIC, hermes_api, hermes_worker, hermes_admin',
            pg_get_serial_sequence('hermes_console_keys', 'id'));
        EXECUTE format('GRANT USAGE ON SEQUENCE %s TO hermes_admin', pg_get_serial_sequence('hermes_console_keys', 'id'));
    END IF;
END
$keyring$;

-- The audit trail (migration AuditTrail); absent before that migration. Append-only: hermes_admin (the admin API, the
-- console and the operator CLI) appends and reads it; hermes_worker may only run the retention function, which keeps
-- every entry at least 30 days; nobody can UPDATE it, and its trigger refuses DELETE and TRUNCATE even to the owner.
DO $audit$
BEGIN
    IF to_regclass('hermes_audit') IS NOT NULL THEN
        REVOKE ALL ON hermes_audit FROM PUBLIC, hermes_api, hermes_worker, hermes_admin;
        GRANT SELECT, INSERT ON hermes_audit TO hermes_admin;
        REVOKE ALL ON FUNCTION hermes_audit_purge(interval) FROM PUBLIC, hermes_api, hermes_admin;
        GRANT EXECUTE ON FUNCTION hermes_audit_purge(interval) TO hermes_worker;
    END IF;
    -- Automatic recovery (migration AutoRecovery): the worker appends its one entry, as system:auto-recover, through
    -- this function only; it still cannot INSERT into the trail.
    IF to_regprocedure('hermes_audit_auto_recover(text[], bigint, jsonb)') IS NOT NULL THEN
        REVOKE ALL ON FUNCTION hermes_audit_auto_recover(text[], bigint, jsonb) FROM PUBLIC, hermes_api, hermes_admin;
        GRANT EXECUTE ON FUNCTION hermes_audit_auto_recover(text[], bigint, jsonb) TO hermes_worker;
    END IF;
END
$audit$;

-- The attempt log's day partitions (migration PartitionedAttemptLog); absent before that migration. The worker's
-- maintenance creates the days ahead, and retention (the worker's and the purge verb's) drops whole days, through these
-- SECURITY DEFINER functions only: neither group owns a table or may run DDL. The partitions themselves need no grant:
-- every statement goes through the parent table, whose privileges PostgreSQL checks.
DO $partitions$
BEGIN
    IF to_regprocedure('hermes_attempt_partitions_ensure(date, integer)') IS NOT NULL THEN
        REVOKE ALL ON FUNCTION hermes_attempt_partitions_ensure(date, integer), hermes_attempt_partitions_drop(interval) FROM PUBLIC, hermes_api;
        GRANT EXECUTE ON FUNCTION hermes_attempt_partitions_ensure(date, integer), hermes_attempt_partitions_drop(interval) TO hermes_worker, hermes_admin;
    END IF;
END
$partitions$;

-- hermes_api: the two-row submission transaction (LeadIntake.StoreAsync) and the idempotency look-up (FindByKeyAsync).
GRANT INSERT ON hermes_leads, hermes_outbox TO hermes_api;
GRANT SELECT (id, lead_id, created_at, idempotency_key, request_hash) ON hermes_leads TO hermes_api;
GRANT SELECT (id, created_at, available_at) ON hermes_outbox TO hermes_api;

-- hermes_worker: OutboxStore (claim, complete, release, next due) and OutboxPurge (retention).
GRANT SELECT, INSERT, UPDATE, DELETE ON hermes_outbox TO hermes_worker;
-- UPDATE on the attempt log only because the purge locks rows with FOR UPDATE SKIP LOCKED, which requires it.
GRANT SELECT, INSERT, UPDATE, DELETE ON hermes_delivery_attempts TO hermes_worker;
-- erased_at (a time, nothing about the person): the outcome writer's "this lead is erased" guard reads it.
GRANT SELECT (id, lead_id, n8n_webhook_sent_at, n8n_response_received_at, n8n_response_data, n8n_success,
              n8n_error_message, brevo_contact_id, status, processed_at, erased_at, crm_erasure_state, crm_erased_at)
    ON hermes_leads TO hermes_worker;
GRANT UPDATE (n8n_webhook_sent_at, n8n_response_received_at, n8n_response_data, n8n_success,
              n8n_error_message, brevo_contact_id, status, processed_at, crm_erasure_state, crm_erased_at)
    ON hermes_leads TO hermes_worker;

-- hermes_admin: every operator action; still no DDL and no TRUNCATE.
GRANT SELECT, INSERT, UPDATE, DELETE ON hermes_leads, hermes_outbox, hermes_delivery_attempts TO hermes_admin;

-- The identity sequences (identity columns do not check them on INSERT, but explicit grants keep tools honest).
DO $sequences$
DECLARE
    s text;
BEGIN
    FOREACH s IN ARRAY ARRAY[
        pg_get_serial_sequence('hermes_leads', 'id'),
        pg_get_serial_sequence('hermes_outbox', 'id'),
        pg_get_serial_sequence('hermes_delivery_attempts', 'id')] LOOP
        EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM PUBLIC, hermes_api, hermes_worker, hermes_admin', s);
        EXECUTE format('GRANT USAGE ON SEQUENCE %s TO hermes_admin', s);
    END LOOP;
    EXECUTE format('GRANT USAGE ON SEQUENCE %s, %s TO hermes_api',
        pg_get_serial_sequence('hermes_leads', 'id'), pg_get_serial_sequence('hermes_outbox', 'id'));
    EXECUTE format('GRANT USAGE ON SEQUENCE %s, %s TO hermes_worker',
        pg_get_serial_sequence('hermes_outbox', 'id'), pg_get_serial_sequence('hermes_delivery_attempts', 'id'));
    -- Every host's readiness probe (/health/ready) and the doctor verb compare the applied migrations with the
    -- code: all three groups read the history (migration ids and EF versions only; nothing about any person).
    IF to_regclass('"__EFMigrationsHistory"') IS NOT NULL THEN
        REVOKE ALL ON "__EFMigrationsHistory" FROM PUBLIC, hermes_api, hermes_worker, hermes_admin;
        GRANT SELECT ON "__EFMigrationsHistory" TO hermes_api, hermes_worker, hermes_admin;
    END IF;
END
$sequences$;
