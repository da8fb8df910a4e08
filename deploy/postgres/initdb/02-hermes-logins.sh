#!/usr/bin/env bash
# Creates the login roles the compose services connect with, as members of the group roles of roles.sql:
#   hermes_api_login    IN ROLE hermes_api      the API             (HERMES_DB_API_PASSWORD)
#   hermes_worker_login IN ROLE hermes_worker   the workers         (HERMES_DB_WORKER_PASSWORD)
#   hermes_admin_login  IN ROLE hermes_admin    admin API and CLI   (HERMES_DB_ADMIN_PASSWORD)
# The groups are created here (NOLOGIN, as roles.sql creates them) when missing; what they may do is granted by
# roles.sql, which `hermes-worker migrate --roles` applies after the tables exist.
#
# Run by the postgres image's entrypoint on the first start (executed: it is executable), as POSTGRES_USER over the
# local socket. Idempotent: it sets the passwords again on every run, so after changing one in .env run it by hand:
#   docker compose exec postgres /docker-entrypoint-initdb.d/02-hermes-logins.sh
# Elsewhere (managed PostgreSQL, Kubernetes) a DBA creates the logins instead; see roles.sql's header.
set -euo pipefail

for variable in HERMES_DB_API_PASSWORD HERMES_DB_WORKER_PASSWORD HERMES_DB_ADMIN_PASSWORD; do
  if [[ -z ${!variable:-} ]]; then
    echo "02-hermes-logins: $variable is not set: the logins cannot be created" >&2
    exit 1
  fi
done

# Passwords travel as psql variables (:'name' quotes them as literals), never inside the script's text.
psql -X -v ON_ERROR_STOP=1 --no-password \
  --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}" \
  -v api_password="$HERMES_DB_API_PASSWORD" \
  -v worker_password="$HERMES_DB_WORKER_PASSWORD" \
  -v admin_password="$HERMES_DB_ADMIN_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I NOLOGIN', g)
FROM unnest(ARRAY['hermes_api', 'hermes_worker', 'hermes_admin']) AS g
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = g) \gexec

SELECT format('CREATE ROLE %I LOGIN', login)
FROM unnest(ARRAY['hermes_api_login', 'hermes_worker_login', 'hermes_admin_login']) AS login
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = login) \gexec

SELECT format('GRANT %I TO %I', l.grp, l.login)
FROM (VALUES ('hermes_api_login', 'hermes_api'), ('hermes_worker_login', 'hermes_worker'), ('hermes_admin_login', 'hermes_admin')) AS l(login, grp)
WHERE NOT pg_has_role(l.login, l.grp, 'MEMBER') \gexec

ALTER ROLE hermes_api_login LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'api_password';
ALTER ROLE hermes_worker_login LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'worker_password';
ALTER ROLE hermes_admin_login LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'admin_password';
SQL
echo "02-hermes-logins: hermes_api_login, hermes_worker_login, hermes_admin_login ready" >&2
