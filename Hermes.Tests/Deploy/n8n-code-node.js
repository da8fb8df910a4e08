// Runs one n8n Code node script ("Run Once for All Items") the way n8n does: the file's text becomes the
// body of an async function whose `this` has `helpers`, with $input, $, $env, $getWorkflowStaticData and a
// require limited to NODE_FUNCTION_ALLOW_BUILTIN=crypto. Used by the Deploy tests.
//   node n8n-code-node.js <code file>   < scenario.json   > result.json
// scenario: { nowMs?, env?, staticData?, items: [{ json, rawBody? }], nodes?: { "<name>": [{ json }] } }
// result:   { ok: true, items: [...], staticData } or { ok: false, error, staticData }
'use strict';

const fs = require('fs');

const codeFile = process.argv[2];
const scenario = JSON.parse(fs.readFileSync(0, 'utf8'));
const code = fs.readFileSync(codeFile, 'utf8');

if (typeof scenario.nowMs === 'number') {
  Date.now = () => scenario.nowMs;
}

const items = (scenario.items || []).map((item) => ({
  json: item.json || {},
  binary:
    typeof item.rawBody === 'string'
      ? { data: { data: Buffer.from(item.rawBody, 'utf8').toString('base64'), mimeType: 'application/json' } }
      : undefined,
}));
const staticData = scenario.staticData || {};
const nodeOutputs = scenario.nodes || {};

const accessor = (list) => ({ first: () => list[0], last: () => list[list.length - 1], all: () => list, item: list[0] });
const $input = accessor(items);
const $ = (name) => {
  if (!Object.prototype.hasOwnProperty.call(nodeOutputs, name)) {
    throw new Error(`Referenced node doesn't exist or hasn't run: "${name}"`);
  }
  return accessor(nodeOutputs[name]);
};
const $env = scenario.env || {};
const $getWorkflowStaticData = (type) => {
  if (type !== 'global' && type !== 'node') {
    throw new Error(`unknown static data type ${type}`);
  }
  return staticData;
};
const allowedBuiltins = new Set(['crypto']);
const sandboxRequire = (name) => {
  if (!allowedBuiltins.has(name)) {
    throw new Error(`Cannot find module '${name}' (not allowed by NODE_FUNCTION_ALLOW_BUILTIN)`);
  }
  return require(name);
};
const helpers = {
  getBinaryDataBuffer: async (itemIndex, propertyName) => {
    const binary = items[itemIndex] && items[itemIndex].binary && items[itemIndex].binary[propertyName];
    if (!binary) {
      throw new Error(`This operation expects the node's input data to contain a binary file '${propertyName}'`);
    }
    return Buffer.from(binary.data, 'base64');
  },
};

const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
const run = new AsyncFunction('$input', '$', '$env', '$getWorkflowStaticData', 'require', code);

run
  .call({ helpers }, $input, $, $env, $getWorkflowStaticData, sandboxRequire)
  .then(
    (result) => {
      // n8n accepts an array of { json } items from this mode and fails the node otherwise.
      if (!Array.isArray(result) || !result.every((i) => i && typeof i.json === 'object' && i.json !== null)) {
        throw new Error('Code doesn\'t return items properly: expected an array of { json } objects');
      }
      return { ok: true, items: result, staticData };
    },
  )
  .catch((error) => ({ ok: false, error: String((error && error.message) || error), staticData }))
  .then((outcome) => process.stdout.write(JSON.stringify(outcome)));
