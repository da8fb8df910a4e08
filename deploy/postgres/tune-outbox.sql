-- Per-table storage and autovacuum settings for Hermes' busy tables. Run after the migrations (compose's
-- db-tune service does; elsewhere: psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f deploy/postgres/tune-outbox.sql).
-- Idempotent: ALTER TABLE ... SET only replaces the listed options.
--
-- hermes_outbox is a queue: every row is inserted, claimed (an UPDATE of available_at, which is indexed, so
-- never a HOT update), updated again when delivered or retried, and deleted by the retention purge. The
-- global defaults (vacuum at 20% dead rows) would let a table of a few thousand live rows carry many
-- times that in dead tuples, and the claim query's index scan would wade through them. Vacuum it after
-- about 1% (+500 rows) has changed, with no cost throttling, and keep its statistics fresh.
-- fillfactor 90 leaves room on each page for the updates that can be HOT (last_error, locked_by, ...).
-- fsync and the other durability settings are untouched: those live in postgresql.conf and stay on.
BEGIN;

ALTER TABLE hermes_outbox SET (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 500,
    autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_analyze_threshold = 500,
    autovacuum_vacuum_cost_delay = 0,
    fillfactor = 90
);

-- The attempt log is append-only until the retention purge deletes old rows in bulk: vacuum it after
-- the purge (5% dead) and after inserts (so index-only scans stay possible), not at the default 20%.
ALTER TABLE hermes_delivery_attempts SET (
    autovacuum_vacuum_scale_factor = 0.05,
    autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.05
);

-- Leads are inserted once and updated once (the delivery outcome); they are never purged. Defaults suit
-- them apart from fresher statistics for the operator's status queries.
ALTER TABLE hermes_leads SET (
    autovacuum_analyze_scale_factor = 0.05
);

COMMIT;
