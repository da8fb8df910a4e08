#!/usr/bin/env bash
# Dead tuples under a drain, the outbox's autovacuum settings (table q_tuned, as migration QueueStorageTuning sets them)
# against PostgreSQL's defaults (q_default): 30,000 pending rows, claimed 100 at a time by the claim statement's shape
# and marked delivered, about 0.5 s per batch for both tables; every 30 batches the statistics are printed
# (batch|table|live|dead|autovacuums). Set PSQL to reach a scratch database that has the two tables; see
# docs/database.md, "Autovacuum", for the set-up statements and the recorded run.
P=${PSQL:-"psql -X -q -At"}
for i in $(seq 1 300); do
  for t in q_tuned q_default; do
    $P -c "WITH c AS (SELECT id FROM $t WHERE status='pending' AND available_at <= now() ORDER BY available_at, id LIMIT 100 FOR UPDATE SKIP LOCKED) UPDATE $t o SET available_at = now() + interval '30 s', attempts = attempts + 1, locked_by = 'w' FROM c WHERE o.id = c.id" -c "UPDATE $t SET status='delivered', delivered_at=now(), locked_by=NULL WHERE locked_by='w'"
  done
  if (( i % 30 == 0 )); then $P -c "select pg_stat_force_next_flush()" >/dev/null; $P -c "select $i, relname, n_live_tup, n_dead_tup, autovacuum_count from pg_stat_user_tables where relname like 'q_%' order by relname"; fi
  sleep 0.25
done
