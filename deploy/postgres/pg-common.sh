# Shared by backup.sh and restore.sh (sourced, not run).

log() { printf '%s: %s\n' "${log_prefix:-hermes}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

tool() {
  if [[ -n ${PG_BIN:-} ]]; then printf '%s/%s' "$PG_BIN" "$1"; else printf '%s' "$1"; fi
}

# Keeps the query parameters libpq understands and drops the ones only Npgsql or Prisma know
# (pgbouncer=true, schema=..., Npgsql keywords), which libpq would refuse.
libpq_url() {
  local url=$1 base kept="" param
  case $url in
    postgres://* | postgresql://*) ;;
    *) die "the database URL must start with postgres:// or postgresql://" ;;
  esac
  base=${url%%\?*}
  if [[ $url == *\?* ]]; then
    local -a params
    IFS='&' read -ra params <<<"${url#*\?}"
    for param in "${params[@]}"; do
      case ${param%%=*} in
        sslmode | sslrootcert | sslcert | sslkey | sslpassword | sslcrl | sslcompression | requiressl | \
          connect_timeout | application_name | options | target_session_attrs | channel_binding | \
          gssencmode | keepalives | keepalives_idle | keepalives_interval | keepalives_count | \
          tcp_user_timeout | user | password | dbname | host | hostaddr | port | passfile | service | \
          load_balance_hosts)
          kept+="${kept:+&}$param"
          ;;
      esac
    done
  fi
  printf '%s' "$base${kept:+?$kept}"
}

# Rows per table in a custom-format archive, from its COPY data: "<table> <rows>" lines.
archive_row_counts() {
  "$(tool pg_restore)" --data-only --file=- "$1" | awk '
    copying && $0 == "\\." { print table, rows; copying = 0; next }
    copying { rows++; next }
    /^COPY / { table = $2; rows = 0; copying = 1 }'
}


# The connection URL from the environment (DATABASE_DIRECT_URL, then DATABASE_URL), cleaned for libpq;
# empty when neither is set and libpq's PG* variables are to be used.
connection_url() {
  local url=${DATABASE_DIRECT_URL:-${DATABASE_URL:-}}
  if [[ -n $url ]]; then libpq_url "$url"; fi
}

# Arguments that connect a libpq tool to database $2 of the server in URL $1 (libpq's PG* variables
# when $1 is empty). A dbname query parameter overrides the URL's path.
connect_to() {
  local url=$1 database=$2
  if [[ -z $url ]]; then
    printf '%s\n' "--dbname=$database"
  elif [[ $url == *\?* ]]; then
    printf '%s\n' "--dbname=$url&dbname=$database"
  else
    printf '%s\n' "--dbname=$url?dbname=$database"
  fi
}
