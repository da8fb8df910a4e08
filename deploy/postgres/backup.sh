#!/usr/bin/env bash
# Backs up the Hermes database: pg_dump custom format (-Fc: compressed, restorable table by table),
# timestamped, checked, then old backups pruned.
#
#   deploy/postgres/backup.sh [backup-dir]
#
# Connection, first match wins: DATABASE_DIRECT_URL, DATABASE_URL (the postgres:// URLs Hermes takes; a
# dump through a transaction-pooling PgBouncer is unreliable, hence the direct URL first), else libpq's
# own PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE (and ~/.pgpass).
# Settings (environment):
#   BACKUP_DIR            where backups go (default ./backups; the argument wins)
#   BACKUP_KEEP           how many of the newest backups to keep (default 14)
#   BACKUP_MAX_AGE_DAYS   also delete backups older than this, but never the newest (default 30; 0: no limit)
#   PG_BIN                folder of pg_dump/pg_restore to use (default: the PATH)
# Steps: dump to <name>.partial; verify the archive (pg_restore --list reads the whole table of contents,
# and the Hermes tables must be in it); count its rows per table; rename to hermes-<db>-<UTC time>.dump
# only then, with a .sha256 next to it; prune. Prints the backup's path as the last line of stdout.
# Exit codes: 0 done, 1 backup failed (nothing new kept), 2 usage.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/postgres/pg-common.sh
source "$here/pg-common.sh"
log_prefix=backup

dir=${1:-${BACKUP_DIR:-./backups}}
keep=${BACKUP_KEEP:-14}
max_age_days=${BACKUP_MAX_AGE_DAYS:-30}
[[ $keep =~ ^[1-9][0-9]*$ ]] || { log "BACKUP_KEEP must be a whole number of at least 1, not '$keep'"; exit 2; }
[[ $max_age_days =~ ^[0-9]+$ ]] || { log "BACKUP_MAX_AGE_DAYS must be a whole number, not '$max_age_days'"; exit 2; }

conn=()
url=$(connection_url)
if [[ -n $url ]]; then
  conn=(--dbname="$url")
fi
database=$("$(tool psql)" "${conn[@]}" -XAtqc 'SELECT current_database()') ||
  die "cannot connect (set DATABASE_URL, DATABASE_DIRECT_URL or PGHOST/PGUSER/PGDATABASE)"

mkdir -p "$dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
name="hermes-${database}-${stamp}.dump"
partial="$dir/$name.partial"
trap 'rm -f "$partial"' EXIT

log "dumping database '$database' to $dir/$name"
"$(tool pg_dump)" "${conn[@]}" --format=custom --compress=6 --no-password --file="$partial"

log "verifying the archive"
toc=$("$(tool pg_restore)" --list "$partial") || die "pg_restore cannot read the archive"
for table in hermes_leads hermes_outbox hermes_delivery_attempts; do
  # The attempt log is partitioned by day (migration PartitionedAttemptLog): its data is in its partitions.
  grep -Eq "TABLE DATA [^ ]+ ${table}(_p[0-9]{8})? " <<<"$toc" || die "the archive has no data section for $table"
done
archive_row_counts "$partial" | while read -r table rows; do log "  $table: $rows rows"; done

mv "$partial" "$dir/$name"
trap - EXIT
(cd "$dir" && sha256sum "$name" >"$name.sha256")

# Retention: the newest $keep backups at most; beyond the newest one, none older than $max_age_days.
now=$(date +%s)
index=0
while IFS= read -r file; do
  index=$((index + 1))
  age_days=$(((now - $(stat -c %Y "$file")) / 86400))
  if ((index > keep)) || ((index > 1 && max_age_days > 0 && age_days > max_age_days)); then
    log "pruning $(basename "$file") (${age_days} days old, number $index)"
    rm -f "$file" "$file.sha256"
  fi
done < <(find "$dir" -maxdepth 1 -type f -name 'hermes-*.dump' -printf '%T@ %p\n' | sort -rn | cut -d' ' -f2-)

log "done"
printf '%s\n' "$dir/$name"
