// Code node "Remember delivery" of the Hermes lead intake workflow (embedded verbatim in
// hermes-workflow.json; run `node deploy/n8n/build-workflow.js` after editing it).
//
// Input: the full response of a Brevo call ({ statusCode, headers, body }): 201 from "create contact"
// with body { id }, or 200 from the look-up that follows a 204 (contact updated). Output: the contact id
// for the answer to Hermes, remembered under the webhook-id so a retry of this delivery gets the same
// answer without a second Brevo call. No id means Brevo did not do what we asked: throwing sends the
// execution to the 500 answer, and Hermes retries.
//
// The memory lives in the workflow's static data, which n8n saves only for production executions (an
// active workflow called on its /webhook/ URL, not the editor's test URL). It keeps 7 days and at most
// 5,000 deliveries: far longer than Hermes' retries, and small enough that saving it stays cheap.
const RETENTION_SECONDS = 7 * 24 * 60 * 60;
const MAX_ENTRIES = 5000;

const response = $input.first().json;
const id = response && response.body && response.body.id;
if (id === undefined || id === null || String(id) === '') {
  throw new Error(`Brevo answered ${response && response.statusCode} without a contact id`);
}
const brevoContactId = String(id);
const webhookId = $('Prepare Brevo contact').first().json.webhookId;

const memory = $getWorkflowStaticData('global');
const now = Math.floor(Date.now() / 1000);
const kept = Object.entries(memory.hermesDelivered || {})
  .filter(([key, entry]) => key !== webhookId && entry && now - entry.at <= RETENTION_SECONDS)
  .sort((a, b) => b[1].at - a[1].at)
  .slice(0, MAX_ENTRIES - 1);
memory.hermesDelivered = Object.fromEntries([[webhookId, { brevoContactId, at: now }], ...kept]);

return [{ json: { brevoContactId, webhookId } }];
