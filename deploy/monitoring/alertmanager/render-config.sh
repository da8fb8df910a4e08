#!/bin/sh
# Writes Alertmanager's configuration with only the receivers whose secret is given, so that compose's monitoring
# profile starts with any subset of them. Run by entrypoint.sh at container start (busybox sh); tested with bash in
# Hermes.Tests/Deploy/AlertmanagerRenderTests (each combination checked by `amtool check-config`).
#
#   render-config.sh <output-file>
#
# Each receiver's secret comes from its variable, else from a file already in the secrets folder (a Docker or
# Kubernetes secret mounted there); the variable is written to that file, readable by Alertmanager's user only,
# since Alertmanager expands no variables in its configuration and the file keeps the secret out of it:
#   ALERTMANAGER_SLACK_WEBHOOK_URL      -> slack-webhook-url      Slack (both routes)
#   ALERTMANAGER_SMTP_PASSWORD          -> smtp-password          email (warnings)
#   ALERTMANAGER_PAGERDUTY_ROUTING_KEY  -> pagerduty-routing-key  PagerDuty (critical)
# ALERTMANAGER_SECRETS_DIR (default /etc/alertmanager/secrets) is that folder. With none given both receivers are
# empty, Alertmanager's null receiver: alerts are kept and shown on its page and API, and sent nowhere.
# A value still holding a CHANGE_ME_ placeholder of .env.example stops the script with exit code 78 (EX_CONFIG).
# deploy/monitoring/alertmanager/alertmanager.yml is what this writes when all three are given (a test checks so).
set -eu

out=${1:?usage: render-config.sh <output-file>}
dir=${ALERTMANAGER_SECRETS_DIR:-/etc/alertmanager/secrets}
umask 077

# secret <file> <variable> <what>: 1 when the receiver's secret is given (written to <file>), 0 when not.
secret() {
  eval "value=\${$2:-}"
  from=$2
  if [ -z "$value" ] && [ -s "$dir/$1" ]; then
    from="$dir/$1"
    value=$(cat "$dir/$1")
  fi
  case $value in
    "")
      echo "alertmanager: $2 is not set: no $3 receiver" >&2
      echo 0
      return
      ;;
    CHANGE_ME_*)
      echo "alertmanager: $from still holds the placeholder of .env.example ($value): set the real $3 secret, or leave it empty to run without the $3 receiver" >&2
      exit 78
      ;;
  esac
  [ "$from" = "$2" ] && printf '%s' "$value" >"$dir/$1"
  echo 1
}

mkdir -p "$dir"
slack=$(secret slack-webhook-url ALERTMANAGER_SLACK_WEBHOOK_URL Slack)
email=$(secret smtp-password ALERTMANAGER_SMTP_PASSWORD email)
pagerduty=$(secret pagerduty-routing-key ALERTMANAGER_PAGERDUTY_ROUTING_KEY PagerDuty)

slack_config() {
  cat <<'EOF'
    slack_configs:
      - channel: '#hermes-alerts'
        send_resolved: true
        title: '[{{ .Status | toUpper }}] {{ .CommonAnnotations.summary }}'
        text: 'Runbook: {{ .CommonAnnotations.runbook_url }}'
EOF
}

{
  cat <<'EOF'
# Hermes' Alertmanager routing (the seed's §6): critical alerts page through PagerDuty and go to Slack; warnings
# go to Slack and email. Written at start by render-config.sh with the receivers whose secrets are given.
global:
  resolve_timeout: 5m
EOF
  [ "$slack" = 1 ] && echo "  slack_api_url_file: $dir/slack-webhook-url"
  if [ "$email" = 1 ]; then
    # The SMTP server, sender and login: edit them here (and in alertmanager.yml) for your mail provider.
    cat <<EOF
  smtp_smarthost: smtp.example.com:587
  smtp_from: hermes-alerts@example.com
  smtp_auth_username: hermes-alerts@example.com
  smtp_auth_password_file: $dir/smtp-password
  smtp_require_tls: true
EOF
  fi
  cat <<'EOF'

route:
  receiver: team-chat-and-email
  group_by: [alertname, job]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  routes:
    - matchers: [severity="critical"]
      receiver: on-call
      continue: false

inhibit_rules:
  # A database that nobody reaches explains the 5xx, the stale backlog and the failing deliveries.
  - source_matchers: [alertname="HermesDatabaseDown"]
    target_matchers: [alertname=~"HermesApiHighErrorRatio|HermesOutboxStale|HermesDeliveriesFailing"]

receivers:
  - name: on-call
EOF
  if [ "$pagerduty" = 1 ]; then
    cat <<EOF
    pagerduty_configs:
      - routing_key_file: $dir/pagerduty-routing-key
        severity: critical
        description: '{{ .CommonAnnotations.summary }}'
        links:
          - href: '{{ .CommonAnnotations.runbook_url }}'
            text: runbook
EOF
  fi
  [ "$slack" = 1 ] && slack_config
  echo "  - name: team-chat-and-email"
  [ "$slack" = 1 ] && slack_config
  if [ "$email" = 1 ]; then
    cat <<'EOF'
    email_configs:
      - to: hermes-oncall@example.com
        send_resolved: true
        headers:
          Subject: '[Hermes {{ .Status }}] {{ .CommonAnnotations.summary }}'
EOF
  fi
  true
} >"$out"

if [ "$slack$email$pagerduty" = 000 ]; then
  echo "alertmanager: no receiver secret is given: alerts are kept and shown, and sent nowhere" >&2
fi
