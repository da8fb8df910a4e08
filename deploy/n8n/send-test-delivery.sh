#!/usr/bin/env bash
# Sends one signed test delivery to the Hermes n8n workflow, exactly as a Hermes worker would (Standard
# Webhooks headers, the Header Auth header, a lead.submitted v1 body), and prints n8n's answer.
#
#   deploy/n8n/send-test-delivery.sh [webhook-url] [email]
#
# Defaults: http://localhost:5678/webhook/hermes-lead and test+<time>@example.com (Brevo gets a real
# contact for it: use an address you own, or delete the contact afterwards). HERMES_WEBHOOK_SECRET,
# HERMES_N8N_AUTH_HEADER_NAME and HERMES_N8N_AUTH_HEADER_VALUE come from the environment, or from the
# repository's .env when unset. Needs bash, openssl and curl.
# Expected answer: HTTP 200 {"brevoContactId":"...","duplicate":false}; sending the same delivery again
# (HERMES_TEST_ID=<the printed id>) answers the same id with "duplicate":true.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
from_env_file() {
  local key=$1
  if [[ -z ${!key:-} && -f $root/.env ]]; then
    grep -E "^$key=" "$root/.env" | tail -n 1 | cut -d= -f2-
  else
    printf '%s' "${!key:-}"
  fi
}

url=${1:-http://localhost:5678/webhook/hermes-lead}
now=$(date +%s)
email=${2:-test+$now@example.com}
secret=$(from_env_file HERMES_WEBHOOK_SECRET)
header_name=$(from_env_file HERMES_N8N_AUTH_HEADER_NAME)
header_value=$(from_env_file HERMES_N8N_AUTH_HEADER_VALUE)
[[ $secret == whsec_* ]] || { echo "send-test-delivery: HERMES_WEBHOOK_SECRET (whsec_...) is not set" >&2; exit 2; }
header_name=${header_name:-X-Hermes-Auth}

lead_id=${HERMES_TEST_ID:-test_$now}
id="msg_$lead_id"
submitted=$(date -u +%Y-%m-%dT%H:%M:%SZ)
body=$(printf '{"type":"lead.submitted","version":1,"id":"%s","leadId":"%s","backupId":0,"submittedAt":"%s",' "$id" "$lead_id" "$submitted")
body+=$(printf '"lead":{"firstName":"Test","lastName":"Delivery","email":"%s","country":"Nowhere",' "$email")
body+='"phoneNumber":"+1 555 0100","userRole":null,"problemDescription":"A test delivery from send-test-delivery.sh",'
body+='"companyName":null,"companySize":null,"serviceUrgency":"not-urgent","priority":"low",'
body+='"agreeToTerms":true,"privacyConsent":true,"marketingConsent":false},'
body+='"metadata":{"userAgent":"send-test-delivery.sh","ipAddress":null,"source":"manual-test"}}'

# v1 signature: base64(HMAC-SHA256(key = base64-decoded secret after "whsec_", "{id}.{timestamp}.{body}")).
key_hex=$(printf '%s' "${secret#whsec_}" | openssl base64 -d -A | od -An -vtx1 | tr -d ' \n')
signature=$(printf '%s' "$id.$now.$body" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key_hex" -binary | openssl base64 -A)

echo "send-test-delivery: POST $url (webhook-id $id)" >&2
curl --silent --show-error --max-time 30 --write-out '\nHTTP %{http_code}\n' \
  -X POST "$url" \
  -H 'content-type: application/json' \
  -H "$header_name: $header_value" \
  -H "webhook-id: $id" \
  -H "webhook-timestamp: $now" \
  -H "webhook-signature: v1,$signature" \
  -H "Idempotency-Key: $id" \
  -H 'Hermes-Attempt: 1' \
  --data-binary "$body"
