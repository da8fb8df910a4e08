#!/bin/sh
# Entrypoint of the n8n container in docker-compose.yml. Before n8n starts it
#  1. writes the two credentials the Hermes workflow uses from the environment (n8n encrypts them with
#     N8N_ENCRYPTION_KEY on import; the plain file only lives in a private temp file until then),
#  2. imports the Hermes workflow (fixed id, so a restart updates it rather than adding a copy) and
#  3. publishes (activates) it, so /webhook/hermes-lead answers without a click in the editor.
# The workflow is managed from the repository: edits made in the n8n editor are replaced at the next start.
set -eu

: "${HERMES_WEBHOOK_SECRET:?set HERMES_WEBHOOK_SECRET to the whsec_ secret Hermes signs with}"
: "${HERMES_N8N_AUTH_HEADER_NAME:?set HERMES_N8N_AUTH_HEADER_NAME (the header Hermes sends, Webhook__AuthHeaderName)}"
: "${HERMES_N8N_AUTH_HEADER_VALUE:?set HERMES_N8N_AUTH_HEADER_VALUE (its value, Webhook__AuthHeaderValue)}"
: "${BREVO_API_KEY:?set BREVO_API_KEY to a Brevo API v3 key}"

workflows=${HERMES_N8N_WORKFLOWS:-/hermes/workflows}
umask 077
credentials=$(mktemp)
trap 'rm -f "$credentials"' EXIT

# Built with node so that any character in the values is escaped correctly.
node -e '
const e = process.env;
process.stdout.write(JSON.stringify([
  { id: "HermesHeaderAuth", name: "Hermes webhook header", type: "httpHeaderAuth",
    data: { name: e.HERMES_N8N_AUTH_HEADER_NAME, value: e.HERMES_N8N_AUTH_HEADER_VALUE } },
  { id: "HermesBrevoApi", name: "Brevo API key", type: "sendInBlueApi",
    data: { apiKey: e.BREVO_API_KEY } },
]));
' >"$credentials"

n8n import:credentials --input="$credentials"
rm -f "$credentials"
n8n import:workflow --separate --input="$workflows"
n8n publish:workflow --id=HermesLeadIntake

exec n8n start
