#!/usr/bin/env bash
# Restores a Hermes backup (made by backup.sh) into a NEW database and checks that every row of the
# archive arrived.
#
#   deploy/postgres/restore.sh <backup.dump> <new_database_name>
#
# It never writes into an existing database: when <new_database_name> exists it stops. To put the restored
# copy into service, point DATABASE_URL at it (or, with Hermes stopped, rename the databases).
# Connection: as backup.sh (DATABASE_DIRECT_URL, DATABASE_URL, or PG* variables); the database named there
# is only used to run CREATE DATABASE, which needs the CREATEDB privilege.
# Steps: the .sha256 next to the backup, when present, must match; pg_restore --list must read it; CREATE
# DATABASE ... TEMPLATE template0; pg_restore --no-owner --no-acl --exit-on-error --single-transaction
# (pg_stat_statements is left out: it is monitoring, needs a superuser, and initdb/ creates it anyway);
# then the rows of every table are counted and compared with the archive's; ANALYZE.
# Prints the new database's name as the last line of stdout.
# Exit codes: 0 restored and verified, 1 failed (the half-restored database is dropped again), 2 usage.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/postgres/pg-common.sh
source "$here/pg-common.sh"
log_prefix=restore

if [[ $# -ne 2 ]]; then
  log "usage: restore.sh <backup.dump> <new_database_name>"
  exit 2
fi
backup=$1
target=$2
[[ -f $backup ]] || { log "no backup file at $backup"; exit 2; }
[[ $target =~ ^[a-z_][a-z0-9_]{0,62}$ ]] ||
  { log "the new database name must be lower-case letters, digits and _ (at most 63), not '$target'"; exit 2; }

if [[ -f $backup.sha256 ]]; then
  (cd "$(dirname "$backup")" && sha256sum --check --status "$(basename "$backup").sha256") ||
    die "$backup does not match its checksum file $backup.sha256"
  log "checksum matches"
fi
toc=$("$(tool pg_restore)" --list "$backup") || die "$backup is not a readable pg_dump custom-format archive"

url=$(connection_url)
admin=()
if [[ -n $url ]]; then admin=(--dbname="$url"); fi
mapfile -t into < <(connect_to "$url" "$target")

if [[ -n $("$(tool psql)" "${admin[@]}" -XAtq -v name="$target" <<<"SELECT 1 FROM pg_database WHERE datname = :'name'") ]]; then
  die "database '$target' already exists; restore.sh only restores into a new database"
fi

list=$(mktemp)
created=0
cleanup() {
  local status=$?
  rm -f "$list"
  if ((status != 0 && created)); then
    log "dropping the half-restored database '$target'"
    "$(tool psql)" "${admin[@]}" -XAtq -c "DROP DATABASE IF EXISTS \"$target\"" || true
  fi
}
trap cleanup EXIT

grep -v 'pg_stat_statements' <<<"$toc" >"$list"

log "creating database '$target'"
"$(tool psql)" "${admin[@]}" -XAtq -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$target\" TEMPLATE template0"
created=1

# On a terminal, progress on stderr: pg_restore --verbose names each archive item as it goes (table data included, which
# is where the time is spent); counted against the items of the list, with the time passed. Its other lines (errors,
# warnings) pass through. Never when stderr is a pipe or a log file: there the restore prints as before.
show_progress() {
  local total=$1 n=0 started=$SECONDS line
  while IFS= read -r line; do
    if [[ $line =~ ^pg_restore:\ (creating|processing|executing)\ (.*)$ ]]; then
      n=$((n + 1))
      printf '\r\033[K[restore] item %d / %d, %ds: %.60s' "$n" "$total" $((SECONDS - started)) "${BASH_REMATCH[2]}" >&2
    elif [[ $line != "pg_restore: connecting"* ]]; then
      printf '\r\033[K%s\n' "$line" >&2
    fi
  done
  printf '\r\033[K[restore] %d / %d items restored in %ds\n' "$n" "$total" $((SECONDS - started)) >&2
}

log "restoring $backup"
restore=("$(tool pg_restore)" "${into[@]}" --no-owner --no-acl --exit-on-error --single-transaction --use-list="$list")
if [[ -t 2 ]]; then
  items=$(grep -cvE '^(;|$)' "$list" || true)
  # pg_restore's stderr into the counter, its stdout where it was; pipefail keeps pg_restore's exit status.
  { "${restore[@]}" --verbose "$backup" 2>&1 1>&3 3>&- | show_progress "$items"; } 3>&1
else
  "${restore[@]}" "$backup"
fi

log "comparing row counts with the archive"
mismatches=0
tables=0
while read -r table rows; do
  tables=$((tables + 1))
  restored=$("$(tool psql)" "${into[@]}" -XAtq -c "SELECT count(*) FROM $table")
  if [[ $restored == "$rows" ]]; then
    log "  $table: $rows rows"
  else
    log "  $table: $rows rows in the archive, $restored restored"
    mismatches=$((mismatches + 1))
  fi
done < <(archive_row_counts "$backup")
((tables > 0)) || die "the archive holds no table data"
((mismatches == 0)) || die "$mismatches table(s) differ from the archive"

"$(tool psql)" "${into[@]}" -XAtq -c "ANALYZE"
log "restored and verified into '$target'"
printf '%s\n' "$target"
