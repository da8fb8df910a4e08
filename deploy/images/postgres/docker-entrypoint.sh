#!/usr/bin/env bash
# Entrypoint of the local postgres:15 stand-in (build-local-base-images.sh). It keeps the contract of the official
# image's docker-entrypoint.sh that Hermes relies on, in the same order, but is not that script:
#   - `postgres ...` (or only flags) runs the server as the postgres user (uid 999); any other command runs as is;
#   - an empty $PGDATA is initialised: initdb with POSTGRES_USER (default postgres) as superuser, the
#     POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust) and POSTGRES_INITDB_ARGS; local and
#     127.0.0.1 connections trust (as initdb's default), every other host uses POSTGRES_HOST_AUTH_METHOD
#     (default scram-sha-256);
#   - then, on a temporary server listening on the socket only and started with the same arguments, POSTGRES_DB
#     (default POSTGRES_USER) is created and /docker-entrypoint-initdb.d/* run in name order: *.sh executed when
#     executable, sourced otherwise; *.sql and *.sql.gz through psql with ON_ERROR_STOP;
#   - a $PGDATA that holds a cluster already is started as it is, nothing re-run.
# Not kept: POSTGRES_INITDB_WALDIR, *.sql.xz/*.sql.zst, the "postgres" database removal hints, the nss_wrapper
# support for arbitrary --user ids.
set -Eeo pipefail

if [[ ${1:-} == -* ]]; then
  set -- postgres "$@"
fi

if [[ ${1:-} != postgres ]]; then
  exec "$@"
fi

if [[ $(id -u) == 0 ]]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  chmod 3777 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$BASH_SOURCE" "$@"
fi

: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
export POSTGRES_USER POSTGRES_DB

log() { printf 'postgres-entrypoint: %s\n' "$*" >&2; }

if [[ ! -s $PGDATA/PG_VERSION ]]; then
  if [[ -z ${POSTGRES_PASSWORD:-} && $POSTGRES_HOST_AUTH_METHOD != trust ]]; then
    log "error: the database is uninitialized and POSTGRES_PASSWORD is not set (or POSTGRES_HOST_AUTH_METHOD=trust)"
    exit 1
  fi
  log "initialising $PGDATA as superuser $POSTGRES_USER"
  # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of flags, as in the official image
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "${POSTGRES_PASSWORD:-}") $POSTGRES_INITDB_ARGS -D "$PGDATA"
  printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"

  server_args=("${@:2}")
  pg_ctl -D "$PGDATA" -w start -o "$(printf '%q ' "${server_args[@]}" -c listen_addresses= -p 5432)"
  export PGPASSWORD=${POSTGRES_PASSWORD:-}
  psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
  if [[ $POSTGRES_DB != postgres ]] && [[ -z $("${psql[@]}" --dbname postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$POSTGRES_DB'") ]]; then
    "${psql[@]}" --dbname postgres -c "CREATE DATABASE \"$POSTGRES_DB\""
  fi
  psql+=(--dbname "$POSTGRES_DB")
  for f in /docker-entrypoint-initdb.d/*; do
    case $f in
      *.sh)
        if [[ -x $f ]]; then log "running $f"; "$f"; else log "sourcing $f"; # shellcheck disable=SC1090
          . "$f"; fi ;;
      *.sql) log "running $f"; "${psql[@]}" -f "$f" ;;
      *.sql.gz) log "running $f"; gzip -dc "$f" | "${psql[@]}" ;;
      *) if [[ -e $f ]]; then log "ignoring $f"; fi ;;
    esac
  done
  unset PGPASSWORD
  pg_ctl -D "$PGDATA" -m fast -w stop
  log "initialisation complete; starting the server"
fi

exec "$@"
