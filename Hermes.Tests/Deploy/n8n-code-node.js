// Runs one n8n Code node script ("Run Once for All Items") the way n8n's JavaScript task runner does: the
// file's text becomes the body of an async function run in a fresh vm context holding only what the runner
// puts there (n8n 2.41.3, @n8n/task-runner js-task-runner.js: buildContext and getNativeVariables), so code
// that leans on a Node global the sandbox lacks (URL, fetch, process, ...) fails here as it does in n8n: $input,
// $, $env, $getWorkflowStaticData, `this.helpers`, and a require limited to NODE_FUNCTION_ALLOW_BUILTIN=crypto.
// Used by the Deploy tests; the real-n8n tests (Hermes.Tests/N8n) run the same files in n8n itself.
//   node n8n-code-node.js <code file>   < scenario.json   > result.json
// scenario: { nowMs?, env?, staticData?, items: [{ json, rawBody? }], nodes?: { "<name>": [{ json }] } }
// result:   { ok: true, items: [...], staticData } or { ok: false, error, staticData }
'use strict';

const fs = require('fs');
const vm = require('vm');

const codeFile = process.argv[2];
const scenario = JSON.parse(fs.readFileSync(0, 'utf8'));
const code = fs.readFileSync(codeFile, 'utf8');


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

// The runner's native variables; everything else a script sees comes from the data proxy ($input, $, $env)
// and the RPC object (helpers).
const context = vm.createContext({
  require: sandboxRequire,
  console,
  $getWorkflowStaticData,
  Buffer,
  setTimeout,
  setInterval,
  setImmediate,
  clearTimeout,
  clearInterval,
  clearImmediate,
  btoa,
  atob,
  TextDecoder,
  TextDecoderStream,
  TextEncoder,
  TextEncoderStream,
  FormData,
  $input,
  $,
  $env,
  helpers,
});
// The sandbox has its own Date: the scenario's clock is set there.
if (typeof scenario.nowMs === 'number') {
  vm.runInContext(`Date.now = () => ${Number(scenario.nowMs)};`, context);
}
const run = () => vm.runInContext(`(async function () {\n${code}\n}).call({ helpers })`, context);

Promise.resolve()
  .then(run)
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
