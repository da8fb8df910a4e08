#!/usr/bin/env node
// Writes hermes-workflow.json, the n8n workflow that receives Hermes' webhook, from the node layout below
// and the Code nodes' JavaScript files next to this script (embedded verbatim, so each file stays
// readable and testable on its own). Run after editing any of them:
//   node deploy/n8n/build-workflow.js
// A test (Hermes.Tests/Deploy/N8nWorkflowTests) fails when the committed JSON differs from the files.
'use strict';

const fs = require('fs');
const path = require('path');

const here = __dirname;
const code = (file) => fs.readFileSync(path.join(here, file), 'utf8');

// Fixed ids, so a re-import updates the workflow instead of adding a copy, and the credentials written by
// entrypoint.sh (same ids) are attached without a click in the editor.
const WORKFLOW_ID = 'HermesLeadIntake';
const HEADER_AUTH = { id: 'HermesHeaderAuth', name: 'Hermes webhook header' };
const BREVO = { id: 'HermesBrevoApi', name: 'Brevo API key' };
// n8n's Brevo credential type keeps the old Sendinblue name: BrevoApi.credentials.ts says name = 'sendInBlueApi'.
// import:credentials accepts any type name, so a wrong one only shows at the first delivery.
const BREVO_CREDENTIAL_TYPE = 'sendInBlueApi';
// Each Brevo call gets 5 s; a delivery makes at most two (create, then look-up after a 204), so n8n answers
// within about 10 s even when Brevo hangs: clearly inside the worker's Outbox:RequestTimeout (15 s by default),
// so Hermes records n8n's 502 rather than a timeout of its own. A test checks that relation.
const BREVO_TIMEOUT_MS = 5000;
// The webhook contract this workflow speaks (Hermes' docs/outbox-worker.md, "Webhook contract"); verify-signature.js
// refuses event types outside it with 422.
const CONTRACT = 2;

const condition = (id, leftValue, operator, rightValue = '') => ({
  conditions: {
    options: { caseSensitive: true, leftValue: '', typeValidation: 'strict', version: 2 },
    conditions: [{ id, leftValue, rightValue, operator }],
    combinator: 'and',
  },
  options: {},
});

const respond = (id, name, position, responseCode, responseBody) => ({
  parameters: { respondWith: 'json', responseBody, options: { responseCode } },
  id,
  name,
  type: 'n8n-nodes-base.respondToWebhook',
  typeVersion: 1.1,
  position,
});

const codeNode = (id, name, position, file) => ({
  parameters: { mode: 'runOnceForAllItems', jsCode: code(file) },
  id,
  name,
  type: 'n8n-nodes-base.code',
  typeVersion: 2,
  position,
  onError: 'continueErrorOutput',
});

const nodes = [
  {
    parameters: {
      content:
        '## Hermes lead intake\n' +
        'Hermes POSTs each lead here (signed, at least once). Answers: 200 `{ brevoContactId }`; ' +
        '200 `{ canary: true }` to Hermes\' canary (no Brevo call); ' +
        '401 bad signature or stale timestamp; 400 not a lead.submitted v1 payload; 502 Brevo failed; ' +
        '500 workflow error. Any non-2xx makes Hermes retry. The webhook contract (headers, signature, ' +
        "replays: webhook-id msg_<leadId>_r<N>) is written down in Hermes' docs/outbox-worker.md, \"Webhook contract\".\n\n" +
        '**Credentials**: Header Auth "Hermes webhook header" (same name and value as Hermes\' ' +
        'Webhook__AuthHeaderName/Value), Brevo "Brevo API key".\n' +
        "**n8n environment**: HERMES_WEBHOOK_SECRET (Hermes' whsec_ secret), BREVO_API_URL (optional, default " +
        'https://api.brevo.com), BREVO_LIST_ID (optional), ' +
        'N8N_BLOCK_ENV_ACCESS_IN_NODE=false; require(\'crypto\') allowed where Code nodes run ' +
        '(NODE_FUNCTION_ALLOW_BUILTIN=crypto: the n8nio/runners image sets it; internal runners take n8n\'s).\n\n' +
        'Edit the Code nodes in deploy/n8n/*.js, not here.',
      height: 400,
      width: 520,
    },
    id: '5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0001',
    name: 'About this workflow',
    type: 'n8n-nodes-base.stickyNote',
    typeVersion: 1,
    position: [-80, -420],
  },
  {
    parameters: {
      httpMethod: 'POST',
      path: 'hermes-lead',
      authentication: 'headerAuth',
      responseMode: 'responseNode',
      options: { rawBody: true },
    },
    id: '5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0002',
    name: 'Hermes webhook',
    type: 'n8n-nodes-base.webhook',
    typeVersion: 2,
    position: [0, 0],
    webhookId: '7d3f9b1e-2c4a-4e8b-9a61-5b0f3e2d4c10',
    credentials: { httpHeaderAuth: HEADER_AUTH },
  },
  codeNode('5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0003', 'Verify signature', [220, 0], 'verify-signature.js'),
  {
    parameters: condition(
      'c1a7e0de-0001-4c6e-8f00-000000000001',
      '={{ $json.verified }}',
      { type: 'boolean', operation: 'true', singleValue: true },
    ),
    id: '5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0004',
    name: 'Signature valid?',
    type: 'n8n-nodes-base.if',
    typeVersion: 2.2,
    position: [440, 0],
  },
  respond(
    '5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0005',
    'Reject delivery',
    [660, 200],
    '={{ $json.status }}',
    '={{ { error: $json.error } }}',
  ),
  {
    parameters: condition(
      'c1a7e0de-0004-4c6e-8f00-000000000004',
      '={{ $json.event }}',
      { type: 'string', operation: 'equals' },
      'lead.erased',
    ),
    id: '5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0016',
    name: 'Erasure?',
    type: 'n8n-nodes-base.if',
    typeVersion: 2.2,
    position: [550, -20],
  },
  {
    parameters: condition(
      'c1a7e0de-0006-4c6e-8f00-000000000006',
      '={{ $json.canary }}',
      { type: 'boolean', operation: 'true', singleValue: true },
    ),
    id: '5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0023',
    name: 'Canary?',
    type: 'n8n-nodes-base.if',
    typeVersion: 2.2,
    position: [605, -220],
  },
  // Hermes' canary proves the path up to here and is answered without Brevo: no contact, nothing to erase there.
  respond(
    '5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0024',
    'Answer canary',
    [880, -420],
    200,
    `={{ { canary: true, leadId: $json.payload.leadId, contract: ${CONTRACT} } }}`,
  ),
  codeNode('5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0006', 'Prepare Brevo contact', [660, -20], 'prepare-contact.js'),
  {
    parameters: condition(
      'c1a7e0de-0002-4c6e-8f00-000000000002',
      '={{ $json.duplicate }}',
      { type: 'boolean', operation: 'true', singleValue: true },
    ),
    id: '5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0007',
    name: 'Already delivered?',
    type: 'n8n-nodes-base.if',
    typeVersion: 2.2,
    position: [880, -20],
  },
  respond(
    '5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0008',
    'Answer earlier contact id',
    [1100, -220],
    200,
    '={{ { brevoContactId: $json.brevoContactId, duplicate: true } }}',
  ),
  {
    parameters: {
      method: 'POST',
      url: '={{ $json.brevoApiUrl }}/v3/contacts',
      authentication: 'predefinedCredentialType',
      nodeCredentialType: BREVO_CREDENTIAL_TYPE,
      sendHeaders: true,
      headerParameters: { parameters: [{ name: 'accept', value: 'application/json' }] },
      sendBody: true,
      specifyBody: 'json',
      jsonBody: '={{ JSON.stringify($json.contact) }}',
      options: { timeout: BREVO_TIMEOUT_MS, response: { response: { fullResponse: true } } },
    },
    id: '5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0009',
    name: 'Brevo: create or update contact',
    type: 'n8n-nodes-base.httpRequest',
    typeVersion: 4.2,
    position: [1100, 0],
    credentials: { [BREVO_CREDENTIAL_TYPE]: BREVO },
    onError: 'continueErrorOutput',
  },
  {
    parameters: condition(
      'c1a7e0de-0003-4c6e-8f00-000000000003',
      '={{ $json.statusCode }}',
      { type: 'number', operation: 'equals' },
      201,
    ),
    id: '5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0010',
    name: 'Created (201)?',
    type: 'n8n-nodes-base.if',
    typeVersion: 2.2,
    position: [1320, -20],
  },
  {
    parameters: {
      method: 'GET',
      url: "={{ $('Prepare Brevo contact').first().json.brevoApiUrl }}/v3/contacts/{{ encodeURIComponent($('Prepare Brevo contact').first().json.email) }}",
      authentication: 'predefinedCredentialType',
      nodeCredentialType: BREVO_CREDENTIAL_TYPE,
      sendHeaders: true,
      headerParameters: { parameters: [{ name: 'accept', value: 'application/json' }] },
      options: { timeout: BREVO_TIMEOUT_MS, response: { response: { fullResponse: true } } },
    },
    id: '5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0011',
    name: 'Brevo: look up contact id',
    type: 'n8n-nodes-base.httpRequest',
    typeVersion: 4.2,
    position: [1540, 120],
    credentials: { [BREVO_CREDENTIAL_TYPE]: BREVO },
    onError: 'continueErrorOutput',
  },
  codeNode('5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0012', 'Remember delivery', [1760, -20], 'remember-delivery.js'),
  respond(
    '5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0013',
    'Answer contact id',
    [1980, -40],
    200,
    '={{ { brevoContactId: $json.brevoContactId, duplicate: false } }}',
  ),
  respond(
    '5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0014',
    'Brevo failed',
    [1760, 300],
    502,
    "={{ { error: 'Brevo did not accept the contact', detail: typeof $json.error === 'string' ? $json.error : ($json.error && $json.error.message) || null } }}",
  ),
  respond(
    '5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0015',
    'Workflow failed',
    [1980, 300],
    500,
    "={{ { error: 'the Hermes workflow failed', detail: typeof $json.error === 'string' ? $json.error : ($json.error && $json.error.message) || null } }}",
  ),
  codeNode('5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0017', 'Prepare Brevo erasure', [660, 520], 'prepare-erasure.js'),
  {
    parameters: {
      method: 'DELETE',
      url: '={{ $json.brevoApiUrl }}/v3/contacts/{{ encodeURIComponent($json.brevoContactId) }}',
      authentication: 'predefinedCredentialType',
      nodeCredentialType: BREVO_CREDENTIAL_TYPE,
      sendQuery: true,
      queryParameters: { parameters: [{ name: 'identifierType', value: 'contact_id' }] },
      sendHeaders: true,
      headerParameters: { parameters: [{ name: 'accept', value: 'application/json' }] },
      // Every status goes on to "Check Brevo erasure", which takes 404 document_not_found as already gone.
      options: { timeout: BREVO_TIMEOUT_MS, response: { response: { fullResponse: true, neverError: true } } },
    },
    id: '5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0018',
    name: 'Brevo: delete contact',
    type: 'n8n-nodes-base.httpRequest',
    typeVersion: 4.2,
    position: [880, 520],
    credentials: { [BREVO_CREDENTIAL_TYPE]: BREVO },
    onError: 'continueErrorOutput',
  },
  codeNode('5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0019', 'Check Brevo erasure', [1100, 520], 'check-erasure.js'),
  {
    parameters: condition(
      'c1a7e0de-0005-4c6e-8f00-000000000005',
      '={{ $json.erased }}',
      { type: 'boolean', operation: 'true', singleValue: true },
    ),
    id: '5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0020',
    name: 'Erased?',
    type: 'n8n-nodes-base.if',
    typeVersion: 2.2,
    position: [1320, 520],
  },
  respond(
    '5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0021',
    'Answer erased',
    [1540, 440],
    200,
    `={{ { erased: true, brevoContactId: $json.brevoContactId, alreadyGone: $json.alreadyGone, contract: ${CONTRACT} } }}`,
  ),
  respond(
    '5f0c2a64-7d4e-4a59-9f0e-0d6a3c1e0022',
    'Brevo erasure failed',
    [1540, 640],
    502,
    "={{ { error: 'Brevo did not erase the contact', detail: $json.error ? (typeof $json.error === 'string' ? $json.error : $json.error.message || null) + ($json.detail ? ': ' + $json.detail : '') : null } }}",
  ),
];

const to = (...targets) => targets.map((node) => [{ node, type: 'main', index: 0 }]);
const connections = {
  'Hermes webhook': { main: to('Verify signature') },
  'Verify signature': { main: to('Signature valid?', 'Workflow failed') },
  'Signature valid?': { main: to('Erasure?', 'Reject delivery') },
  'Erasure?': { main: to('Prepare Brevo erasure', 'Canary?') },
  'Canary?': { main: to('Answer canary', 'Prepare Brevo contact') },
  'Prepare Brevo erasure': { main: to('Brevo: delete contact', 'Workflow failed') },
  'Brevo: delete contact': { main: to('Check Brevo erasure', 'Brevo erasure failed') },
  'Check Brevo erasure': { main: to('Erased?', 'Workflow failed') },
  'Erased?': { main: to('Answer erased', 'Brevo erasure failed') },
  'Prepare Brevo contact': { main: to('Already delivered?', 'Workflow failed') },
  'Already delivered?': { main: to('Answer earlier contact id', 'Brevo: create or update contact') },
  'Brevo: create or update contact': { main: to('Created (201)?', 'Brevo failed') },
  'Created (201)?': { main: to('Remember delivery', 'Brevo: look up contact id') },
  'Brevo: look up contact id': { main: to('Remember delivery', 'Brevo failed') },
  'Remember delivery': { main: to('Answer contact id', 'Workflow failed') },
};

const workflow = {
  id: WORKFLOW_ID,
  name: 'Hermes lead intake',
  active: false,
  nodes,
  connections,
  settings: {
    executionOrder: 'v1',
    // Executions hold a lead's personal data: keep failed ones for diagnosis, not every success.
    saveDataSuccessExecution: 'none',
    saveDataErrorExecution: 'all',
  },
  pinData: {},
  meta: { templateCredsSetupCompleted: true },
  tags: [],
};

const out = path.join(here, 'hermes-workflow.json');
const text = JSON.stringify(workflow, null, 2) + '\n';
if (process.argv.includes('--check')) {
  const current = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
  if (current !== text) {
    console.error(`${out} is out of date: run node deploy/n8n/build-workflow.js`);
    process.exit(1);
  }
} else {
  fs.writeFileSync(out, text);
  console.log(`wrote ${out}`);
}
