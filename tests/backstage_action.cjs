'use strict';
// Runs the gosvc:new step of backstage/template.yaml as the scaffolder would, without a Backstage backend: the
// step's input filled from the form's parameters, checked against the action's input schema (with jsonschema,
// as the scaffolder checks it), then the action's handler called with a minimal task context.
//
// Reads JSON on stdin: {"template": FILE, "parameters": {...}, "workspacePath": DIR, "input": {...}}, where
// "input" adds to the step's own (the template version to render, in tests). Prints JSON: {"outputs", "logs"}.

const fs = require('node:fs');
const path = require('node:path');
const YAML = require('yaml');
const { validate } = require('jsonschema');
const { gosvcNewAction } = require('../backstage/actions/gosvc-new.js');

// The one form the gosvc step's input uses: a whole value that is one parameter, which keeps its type.
const PARAMETER = /^\$\{\{\s*parameters\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$/;

function fill(value, parameters) {
  if (typeof value === 'string') {
    const found = PARAMETER.exec(value);
    if (found) return parameters[found[1]] ?? '';
    if (value.includes('${{')) throw new Error(`the harness cannot render ${value}`);
    return value;
  }
  if (Array.isArray(value)) return value.map(item => fill(item, parameters));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, fill(item, parameters)]));
  }
  return value;
}

async function main() {
  const request = JSON.parse(fs.readFileSync(0, 'utf8'));
  const template = YAML.parse(fs.readFileSync(request.template, 'utf8'));
  const step = template.spec.steps.find(candidate => candidate.action === gosvcNewAction.id);
  if (!step) throw new Error(`no step of ${request.template} runs ${gosvcNewAction.id}`);
  const input = { ...fill(step.input, request.parameters), ...request.input };
  const checked = validate(input, gosvcNewAction.schema.input);
  if (!checked.valid) throw new Error(`invalid input for ${gosvcNewAction.id}: ${checked.errors.join('; ')}`);
  const logs = [];
  const log = level => message => logs.push(`${level}: ${message}`);
  const logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  logger.child = () => logger;
  const outputs = {};
  await gosvcNewAction.handler({
    workspacePath: path.resolve(request.workspacePath),
    input,
    logger,
    output: (name, value) => {
      outputs[name] = value;
    },
    createTemporaryDirectory: async () => fs.mkdtempSync(path.join(request.workspacePath, '..', 'tmp-')),
    checkpoint: async ({ fn }) => fn(),
    getInitiatorCredentials: async () => ({ $$type: '@backstage/BackstageCredentials', principal: {} }),
    templateInfo: { entityRef: `template:default/${template.metadata.name}` },
    isDryRun: false,
  });
  process.stdout.write(JSON.stringify({ outputs, logs }));
}

main().catch(error => {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
});
