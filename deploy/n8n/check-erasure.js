// Code node "Check Brevo erasure" of the Hermes lead intake workflow (embedded verbatim in
// hermes-workflow.json; run `node deploy/n8n/build-workflow.js` after editing it).
//
// Input: the full response of Brevo's DELETE /v3/contacts/{id}?identifierType=contact_id ({ statusCode, body }),
// which the node passes on whatever its status. 204 (or any 2xx): deleted. 404 with Brevo's code
// document_not_found: the contact is already gone, which is what was asked. Anything else (401 wrong key,
// 5xx, a 404 without Brevo's code, such as a wrong BREVO_API_URL) is not an erasure: the workflow answers 502
// and Hermes retries. Only { erased: true } makes Hermes record the CRM's confirmation.
const response = $input.first().json;
const status = Number(response && response.statusCode);
const body = response && response.body && typeof response.body === 'object' ? response.body : {};
const brevoContactId = $('Prepare Brevo erasure').first().json.brevoContactId;

if (status >= 200 && status <= 299) {
  return [{ json: { erased: true, brevoContactId, alreadyGone: false } }];
}
if (status === 404 && body.code === 'document_not_found') {
  return [{ json: { erased: true, brevoContactId, alreadyGone: true } }];
}
const detail = typeof body.message === 'string' ? body.message.slice(0, 200) : null;
return [{ json: { erased: false, brevoContactId, error: `Brevo answered ${status} to the deletion of contact ${brevoContactId}`, detail } }];
