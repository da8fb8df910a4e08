#!/usr/bin/env bash
# Runs Hermes on this machine: the API and the outbox worker, on a local PostgreSQL cluster (kept in the
# git-ignored .hermes/ folder) unless DATABASE_URL or ConnectionStrings__Hermes is set. Ctrl-C stops it all.
#
# Settings (all optional): DATABASE_URL, N8N_WEBHOOK_URL (unset in Development: the worker's development
# receiver answers like the n8n workflow), HERMES_API_URL (http://127.0.0.1:8080),
# HERMES_WORKER_URL (http://127.0.0.1:8081), HERMES_LOCAL_DIR (.hermes), HERMES_SKIP_BUILD=1.
set -euo pipefail
cd "$(dirname "$0")"

api_url=${HERMES_API_URL:-http://127.0.0.1:8080}
worker_url=${HERMES_WORKER_URL:-http://127.0.0.1:8081}
local_dir=${HERMES_LOCAL_DIR:-.hermes}
export ASPNETCORE_ENVIRONMENT=${ASPNETCORE_ENVIRONMENT:-${DOTNET_ENVIRONMENT:-Development}}
export DOTNET_ENVIRONMENT=$ASPNETCORE_ENVIRONMENT
mkdir -p "$local_dir"

if [ "${HERMES_SKIP_BUILD:-}" != "1" ]; then
  echo "hermes: building…"
  dotnet build Hermes.Outbox.Worker/Hermes.Outbox.Worker.csproj -nologo -v quiet -clp:ErrorsOnly\;NoSummary
  dotnet build Hermes.Api/Hermes.Api.csproj -nologo -v quiet -clp:ErrorsOnly\;NoSummary
  echo "hermes: built"
fi
worker_dir=$PWD/Hermes.Outbox.Worker/bin/Debug/net10.0
api_dir=$PWD/Hermes.Api/bin/Debug/net10.0
worker_dll=$worker_dir/Hermes.Outbox.Worker.dll
api_dll=$api_dir/Hermes.Api.dll

api_pid="" worker_pid="" own_postgres=""
stop_all() {
  trap - INT TERM EXIT
  echo "hermes: stopping…"
  [ -n "$api_pid" ] && kill -TERM "$api_pid" 2>/dev/null || true
  [ -n "$worker_pid" ] && kill -TERM "$worker_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "$own_postgres" ]; then dotnet "$worker_dll" local-postgres stop --dir "$local_dir/pg" >/dev/null || true; fi
  echo "hermes: stopped"
}
trap 'stop_all; exit 130' INT TERM
trap stop_all EXIT

if [ -z "${DATABASE_URL:-}" ] && [ -z "${ConnectionStrings__Hermes:-}" ]; then
  echo "hermes: no DATABASE_URL; starting the local PostgreSQL in $local_dir/pg"
  DATABASE_URL=$(dotnet "$worker_dll" local-postgres start --dir "$local_dir/pg" --owner-pid $$)
  export DATABASE_URL
  own_postgres=1
fi

# In Development without a secret, sign with a local one so the development receiver verifies signatures.
if [ -z "${HERMES_WEBHOOK_SECRET:-}" ] && [ -z "${N8N_WEBHOOK_URL:-}" ] && [ "$ASPNETCORE_ENVIRONMENT" = "Development" ]; then
  [ -s "$local_dir/dev-webhook-secret" ] || echo "whsec_$(head -c 32 /dev/urandom | base64)" > "$local_dir/dev-webhook-secret"
  HERMES_WEBHOOK_SECRET=$(cat "$local_dir/dev-webhook-secret")
  export HERMES_WEBHOOK_SECRET
fi

# The console (/console) exists when an admin key is set: in Development without one, use a local key kept in $local_dir.
console_key_note="sign in with a key from HERMES_ADMIN_API_KEY"
if [ -z "${HERMES_ADMIN_API_KEY:-}" ] && [ "$ASPNETCORE_ENVIRONMENT" = "Development" ]; then
  [ -s "$local_dir/dev-admin-key" ] || head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=' > "$local_dir/dev-admin-key"
  HERMES_ADMIN_API_KEY=$(cat "$local_dir/dev-admin-key")
  export HERMES_ADMIN_API_KEY
  console_key_note="Development admin key: $HERMES_ADMIN_API_KEY"
fi

dotnet "$worker_dll" migrate
# Each host's own folder is its content root, so its appsettings.{Environment}.json (quiet SQL logs) apply.
dotnet "$api_dll" --urls "$api_url" --contentRoot "$api_dir" & api_pid=$!
dotnet "$worker_dll" run --urls "$worker_url" --contentRoot "$worker_dir" & worker_pid=$!

ready() { curl -fsS -o /dev/null "$1" 2>/dev/null; }
for _ in $(seq 1 120); do
  if ready "$api_url/health/ready" && ready "$worker_url/health/ready"; then break; fi
  kill -0 "$api_pid" 2>/dev/null && kill -0 "$worker_pid" 2>/dev/null || { echo "hermes: a process exited during start-up"; exit 1; }
  sleep 0.5
done

# Built here, not inside the here-document: an apostrophe in a ${…:-…} default there swallows the quotes after it.
n8n_target="the worker's development receiver at $worker_url/dev/n8n (not n8n)"
[ -n "${N8N_WEBHOOK_URL:-}" ] && n8n_target=$N8N_WEBHOOK_URL
lead_json='{"firstName":"Ada","lastName":"Lovelace","email":"ada@example.com","country":"United Kingdom","phoneNumber":"+44 20 7946 0958","problemDescription":"Our web shop was defaced.","agreeToTerms":true,"privacyConsent":true}'
console_line="console: off (set HERMES_ADMIN_API_KEY)"
[ -n "${HERMES_ADMIN_API_KEY:-}" ] && console_line="console: $api_url/console   ($console_key_note)"
cat <<INFO

Hermes is running ($ASPNETCORE_ENVIRONMENT).
  API:     $api_url   (OpenAPI: $api_url/openapi/v1.json, health: $api_url/health/ready)
  worker:  $worker_url   (health: $worker_url/health/n8n)
  n8n:     $n8n_target
  $console_line
Submit a lead:
  curl -i -X POST $api_url/api/leads -H 'Content-Type: application/json' -d '$lead_json'
Press Ctrl-C to stop.
INFO

wait -n "$api_pid" "$worker_pid" || true
echo "hermes: a process exited"
exit 1
