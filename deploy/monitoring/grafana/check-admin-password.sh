#!/bin/sh
# Run before Grafana's own entrypoint by the grafana service of docker-compose.yml (profile monitoring): Grafana's
# admin password is the one secret that profile requires. Empty, or still the CHANGE_ME_ placeholder of
# .env.example, it stops the container with exit code 78 (EX_CONFIG) and says which variable to set, instead of a
# Grafana whose admin password is "admin" or a known string. Tested with bash in Hermes.Tests/Deploy.
set -eu

value=${GF_SECURITY_ADMIN_PASSWORD:-}
if [ -z "$value" ] && [ -n "${GF_SECURITY_ADMIN_PASSWORD__FILE:-}" ] && [ -s "$GF_SECURITY_ADMIN_PASSWORD__FILE" ]; then
  value=$(cat "$GF_SECURITY_ADMIN_PASSWORD__FILE")
fi
case $value in
  "")
    echo "grafana: GRAFANA_ADMIN_PASSWORD is not set: set it in .env (deploy/generate-env.sh makes one) to run the monitoring profile" >&2
    exit 78
    ;;
  CHANGE_ME_*)
    echo "grafana: GRAFANA_ADMIN_PASSWORD still holds the placeholder of .env.example: set it in .env (deploy/generate-env.sh makes one)" >&2
    exit 78
    ;;
esac
