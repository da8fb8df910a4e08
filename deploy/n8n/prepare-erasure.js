// Code node "Prepare Brevo erasure" of the Hermes lead intake workflow (embedded verbatim in
// hermes-workflow.json; run `node deploy/n8n/build-workflow.js` after editing it).
//
// A lead.erased message (webhook contract 2): Hermes erased a lead on request (GDPR art. 17) and asks for its
// Brevo contact to be deleted. The payload carries the contact id and ids of Hermes only, no personal data.
// No deduplication memory is needed: deleting is idempotent, and a contact already gone (Brevo's 404
// document_not_found) counts as erased.
//
// Brevo's base address is BREVO_API_URL in n8n's environment (default https://api.brevo.com), checked as
// "Prepare Brevo contact" checks it (the same rule, repeated: each Code node runs alone).
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
const brevoContactId = String(verified.payload.brevoContactId);

return [{ json: { webhookId: verified.webhookId, leadId: verified.payload.leadId, brevoContactId, brevoApiUrl } }];
