#!/bin/sh
# Entrypoint of the alertmanager service in docker-compose.yml. alertmanager.yml reads each receiver's secret from a
# file under /etc/alertmanager/secrets (Alertmanager expands no environment variables in its configuration); this
# writes those files from the environment (.env: ALERTMANAGER_*), readable by Alertmanager's user only, into the
# tmpfs compose mounts there, then starts Alertmanager with the shipped file. Kubernetes mounts a Secret there instead.
set -eu

dir=/etc/alertmanager/secrets
umask 077
write() { # write <file> <variable>
  eval "value=\${$2:-}"
  if [ -z "$value" ]; then
    echo "alertmanager: $2 is empty: set it in .env" >&2
    exit 2
  fi
  printf '%s' "$value" >"$dir/$1"
}
write slack-webhook-url ALERTMANAGER_SLACK_WEBHOOK_URL
write smtp-password ALERTMANAGER_SMTP_PASSWORD
write pagerduty-routing-key ALERTMANAGER_PAGERDUTY_ROUTING_KEY

# One instance: no high-availability gossip (an empty --cluster.listen-address turns it off).
exec /bin/alertmanager --config.file=/etc/alertmanager/alertmanager.yml --storage.path=/alertmanager --cluster.listen-address= "$@"
