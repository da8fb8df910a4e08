// Code node "Verify signature" of the Hermes lead intake workflow (hermes-workflow.json embeds this file
// verbatim; run `node deploy/n8n/build-workflow.js` after editing it).
//
// Checks the Standard Webhooks signature Hermes puts on every delivery (https://www.standardwebhooks.com):
//   webhook-signature = "v1,<base64 HMAC-SHA256 of '{webhook-id}.{webhook-timestamp}.{raw body}'>"
// keyed with the base64-decoded part of HERMES_WEBHOOK_SECRET after "whsec_". Several space-separated
// signatures may arrive while a secret is being rotated: one match is enough. A timestamp more than five
// minutes from n8n's clock is refused, so a captured request cannot be replayed later.
//
// The HMAC covers the bytes Hermes sent, not a re-serialised copy, so the Webhook node must have its
// "Raw Body" option on: the body then arrives as the binary property "data" as well.
// n8n settings this node needs: require('crypto') allowed where Code nodes run (NODE_FUNCTION_ALLOW_BUILTIN=crypto;
// the n8nio/runners image's launcher config sets it, internal runners take n8n's), and
// N8N_BLOCK_ENV_ACCESS_IN_NODE=false on n8n itself (to read the secret through $env).
//
// Webhook contract 2 (Hermes' docs/outbox-worker.md, "Webhook contract"): two event types, lead.submitted
// (create the Brevo contact) and lead.erased (delete it), each payload version 1. An event type this workflow
// does not know is refused with 422, never answered 200: Hermes shows the refusal and does not record a
// success nobody had.
//
// A lead.submitted payload with "canary": true is Hermes' canary, a synthetic lead that proves the path: the workflow
// answers it 200 {"canary": true, ...} without calling Brevo (docs/monitoring.md, "The canary").
//
// Output, one item: { verified: true, event, canary, webhookId, timestamp, payload } or
// { verified: false, status, error, signatureValid } — the workflow answers `status` to Hermes, which
// retries on anything but 2xx.
const crypto = require('crypto');

const TOLERANCE_SECONDS = 5 * 60;
const CONTRACT = 2;
// The event types of webhook contract 2 and the payload version of each.
const EVENTS = { 'lead.submitted': 1, 'lead.erased': 1 };

const reject = (status, error, signatureValid = false) => [
  { json: { verified: false, status, error, signatureValid } },
];

const secret = String($env.HERMES_WEBHOOK_SECRET || '');
if (!secret.startsWith('whsec_')) {
  return reject(500, "n8n's HERMES_WEBHOOK_SECRET is not set to the whsec_ secret Hermes signs with");
}
const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
if (key.length < 16) {
  return reject(500, "n8n's HERMES_WEBHOOK_SECRET does not hold at least 16 base64-encoded bytes after whsec_");
}

const headers = $input.first().json.headers || {};
const id = headers['webhook-id'];
const timestamp = headers['webhook-timestamp'];
const signatures = headers['webhook-signature'];
if (!id || !timestamp || !signatures) {
  return reject(401, 'missing webhook-id, webhook-timestamp or webhook-signature header');
}
if (!/^[0-9]{1,12}$/.test(timestamp)) {
  return reject(401, 'webhook-timestamp is not a unix time in seconds');
}
const skew = Math.floor(Date.now() / 1000) - Number(timestamp);
if (Math.abs(skew) > TOLERANCE_SECONDS) {
  return reject(401, `webhook-timestamp is ${skew} seconds away from now (at most ${TOLERANCE_SECONDS} allowed)`);
}

let rawBody;
try {
  rawBody = await this.helpers.getBinaryDataBuffer(0, 'data');
} catch (error) {
  return reject(500, 'the raw body is missing: turn on the Webhook node option "Raw Body"');
}

const expected = crypto
  .createHmac('sha256', key)
  .update(`${id}.${timestamp}.`)
  .update(rawBody)
  .digest();
const signatureValid = String(signatures)
  .split(' ')
  .some((entry) => {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') {
      return false;
    }
    const given = Buffer.from(entry.slice(comma + 1), 'base64');
    return given.length === expected.length && crypto.timingSafeEqual(given, expected);
  });
if (!signatureValid) {
  return reject(401, 'no webhook-signature matches the body (wrong secret, or the body was changed)');
}

let payload;
try {
  payload = JSON.parse(rawBody.toString('utf8'));
} catch (error) {
  return reject(400, 'the body is not JSON', true);
}
if (!payload || typeof payload !== 'object' || typeof payload.type !== 'string') {
  return reject(400, 'the body is not a Hermes webhook payload (no event type)', true);
}
const known = Object.keys(EVENTS).join(', ');
if (!Object.prototype.hasOwnProperty.call(EVENTS, payload.type)) {
  return reject(422, `unknown event type ${payload.type.slice(0, 100)}: this workflow (webhook contract ${CONTRACT}) handles ${known}`, true);
}
if (payload.version !== EVENTS[payload.type]) {
  return reject(422, `${payload.type} version ${String(payload.version).slice(0, 20)} is unknown: this workflow (webhook contract ${CONTRACT}) handles version ${EVENTS[payload.type]}`, true);
}
// The replay contract (docs/outbox-worker.md, "Webhook contract"): webhook-id is the payload's id on a first delivery and
// all its retries, and the payload's id plus "_r<N>" on an operator's N-th replay, so that the deduplication
// below takes a deliberate replay as a new message. Any other webhook-id is a signed id that does not
// belong to this payload, and is refused.
const replayOf = (webhookId, payloadId) =>
  typeof payloadId === 'string' &&
  payloadId !== '' &&
  (webhookId === payloadId ||
    (webhookId.startsWith(`${payloadId}_r`) && /^[1-9][0-9]{0,9}$/.test(webhookId.slice(payloadId.length + 2))));
if (!replayOf(String(id), payload.id)) {
  return reject(400, 'webhook-id is neither the payload id nor a replay of it (<payload id>_r<N>)', true);
}
if (payload.type === 'lead.submitted' && (!payload.lead || typeof payload.lead.email !== 'string' || payload.lead.email === '')) {
  return reject(400, 'the payload has no lead email', true);
}
// Brevo's contact ids are integers; anything else cannot name a contact to delete.
if (payload.type === 'lead.erased' && !/^[0-9]{1,20}$/.test(String(payload.brevoContactId))) {
  return reject(400, 'the lead.erased payload has no Brevo contact id', true);
}

const canary = payload.type === 'lead.submitted' && payload.canary === true;
return [{ json: { verified: true, event: payload.type, canary, webhookId: id, timestamp: Number(timestamp), payload } }];
