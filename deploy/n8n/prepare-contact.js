// Code node "Prepare Brevo contact" of the Hermes lead intake workflow (embedded verbatim in
// hermes-workflow.json; run `node deploy/n8n/build-workflow.js` after editing it).
//
// Deduplication: Hermes delivers at least once and keeps webhook-id stable across retries. When this
// workflow already answered a webhook-id with a Brevo contact id (remembered by "Remember delivery" in the
// workflow's static data), the same answer is given again without calling Brevo. Only successes are
// remembered, so a delivery that failed half-way is simply done again; Brevo's create-or-update is
// idempotent for the same email anyway.
//
// The contact: email plus Brevo's built-in FIRSTNAME and LASTNAME attributes. The rest of the lead stays
// in Hermes (linked by backupId); to send more, create the attributes in Brevo first (Contacts > Settings >
// Contact attributes) and add them below — Brevo rejects unknown attributes. With BREVO_LIST_ID set in n8n's
// environment, contacts who gave marketing consent are added to that list, and nobody else is.
//
// Brevo's base address is BREVO_API_URL in n8n's environment (default https://api.brevo.com), so a test or a
// staging n8n points the two Brevo nodes elsewhere without an edited workflow. It must be an http(s) address
// without credentials; anything else fails this node (500: Hermes retries until the setting is fixed).
const DEFAULT_BREVO_API_URL = 'https://api.brevo.com';
// (A pattern, not new URL(): n8n's Code node sandbox has no URL global.)
const brevoApiUrl = (() => {
  const setting = String($env.BREVO_API_URL || '').trim() || DEFAULT_BREVO_API_URL;
  if (!/^https?:\/\/[^\s\/?#@]+(\/[^\s?#@]*)?$/.test(setting)) {
    throw new Error(
      `BREVO_API_URL must be an http(s) base address without credentials, query or fragment, not "${setting}"`,
    );
  }
  return setting.replace(/\/+$/, '');
})();

const verified = $input.first().json;
const webhookId = verified.webhookId;
const lead = verified.payload.lead;

const delivered = $getWorkflowStaticData('global').hermesDelivered || {};
const earlier = delivered[webhookId];
if (earlier && earlier.brevoContactId) {
  return [{ json: { duplicate: true, webhookId, brevoContactId: earlier.brevoContactId } }];
}

const contact = {
  email: lead.email,
  updateEnabled: true,
  attributes: {
    FIRSTNAME: lead.firstName,
    LASTNAME: lead.lastName,
  },
};
const listId = Number($env.BREVO_LIST_ID || 0);
if (lead.marketingConsent === true && Number.isInteger(listId) && listId > 0) {
  contact.listIds = [listId];
}

return [{ json: { duplicate: false, webhookId, email: lead.email, brevoApiUrl, contact } }];
