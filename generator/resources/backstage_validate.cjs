'use strict';
// Validates Backstage catalog files as the catalog does when it reads them: every YAML document parsed by the
// parser Backstage uses, then the entity policies of the catalog's default setup, then the validator of the
// entity's kind, then each relation field (spec.owner, spec.system ...) parsed as the catalog parses it into a
// reference that an entity could have, of a kind the field allows.
//
// Usage: node backstage_validate.cjs --kinds Component[,API...] FILE...
// Exit status: 0 every document valid, 1 a document is not, 2 bad usage.

const fs = require('node:fs');
const YAML = require('yaml');
const model = require('@backstage/catalog-model');
const { compileCatalogModel, defaultCatalogEntityModel } = require('@backstage/catalog-model/alpha');
const { templateEntityV1beta3Validator } = require('@backstage/plugin-scaffolder-common');

const policy = model.EntityPolicies.allOf([
  new model.SchemaValidEntityPolicy(),
  new model.DefaultNamespaceEntityPolicy(),
  new model.NoForeignRootFieldsEntityPolicy(),
  new model.FieldFormatEntityPolicy(),
]);

// The builtin kinds' processor and the scaffolder's: the catalog refuses an entity that none of them accepts.
const kindValidators = [
  model.apiEntityV1alpha1Validator,
  model.componentEntityV1alpha1Validator,
  model.domainEntityV1alpha1Validator,
  model.groupEntityV1alpha1Validator,
  model.locationEntityV1alpha1Validator,
  model.resourceEntityV1alpha1Validator,
  model.systemEntityV1alpha1Validator,
  model.userEntityV1alpha1Validator,
  templateEntityV1beta3Validator,
];

const catalogModel = compileCatalogModel([defaultCatalogEntityModel]);
const names = model.makeValidator();

async function validateEntity(entity, allowedKinds) {
  const problems = [];
  let checked;
  try {
    checked = await policy.enforce(entity);
  } catch (error) {
    return [error.message];
  }
  if (!allowedKinds.includes(checked.kind)) {
    problems.push(`kind ${JSON.stringify(checked.kind)} is not expected here (expected ${allowedKinds.join(' or ')})`);
  }
  let known = false;
  for (const validator of kindValidators) {
    try {
      if (await validator.check(checked)) {
        known = true;
        break;
      }
    } catch (error) {
      problems.push(error.message);
      known = true;
      break;
    }
  }
  if (!known) {
    problems.push(`unknown kind ${checked.apiVersion}/${checked.kind}: no catalog processor validates it`);
  }
  problems.push(...relationProblems(checked));
  return problems;
}

function relationProblems(entity) {
  let kind;
  try {
    kind = catalogModel.getKind({ kind: entity.kind, apiVersion: entity.apiVersion, spec: entity.spec });
  } catch (error) {
    return [error.message];
  }
  const problems = [];
  const namespace = entity.metadata.namespace ?? model.DEFAULT_NAMESPACE;
  for (const field of kind?.relationFields ?? []) {
    const found = field.path.split('.').reduce((value, key) => (value == null ? undefined : value[key]), entity);
    for (const reference of [found].flat().filter(value => value !== undefined)) {
      problems.push(...referenceProblems(field, reference, namespace));
    }
  }
  return problems;
}

function referenceProblems(field, reference, namespace) {
  let parsed;
  try {
    parsed = model.parseEntityRef(reference, {
      defaultKind: field.defaultKind,
      defaultNamespace: field.defaultNamespace === 'default' ? model.DEFAULT_NAMESPACE : namespace,
    });
  } catch (error) {
    return [`${field.path}: ${error.message}`];
  }
  const shown = `${field.path} ${JSON.stringify(reference)}`;
  const problems = [];
  if (!names.isValidKind(parsed.kind)) problems.push(`${shown}: kind ${JSON.stringify(parsed.kind)} is not valid`);
  if (!names.isValidNamespace(parsed.namespace)) {
    problems.push(`${shown}: namespace ${JSON.stringify(parsed.namespace)} is not valid`);
  }
  if (!names.isValidEntityName(parsed.name)) {
    problems.push(`${shown}: no entity can have the name ${JSON.stringify(parsed.name)}`);
  }
  const allowed = field.allowedKinds ?? [];
  if (allowed.length && !allowed.some(kind => kind.toLowerCase() === parsed.kind.toLowerCase())) {
    problems.push(`${shown}: must refer to a ${allowed.join(' or ')}, not a ${parsed.kind}`);
  }
  return problems;
}

async function validateFile(file, allowedKinds) {
  // As the catalog reads a file: every document that has contents must be a mapping, and none may be broken.
  const documents = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'));
  const lines = [];
  let entities = 0;
  for (const [index, document] of documents.entries()) {
    const where = `${file}: document ${index + 1}`;
    if (document.errors?.length) {
      lines.push(`${where}: YAML error: ${document.errors[0].message.split('\n')[0]}`);
      continue;
    }
    if (!document.contents) continue;
    const entity = document.toJSON();
    if (entity === null || typeof entity !== 'object' || Array.isArray(entity)) {
      lines.push(`${where}: expected a mapping at the root, got ${Array.isArray(entity) ? 'a list' : typeof entity}`);
      continue;
    }
    entities += 1;
    const label = `${where} (${entity.kind} ${entity.metadata?.name})`;
    for (const problem of await validateEntity(entity, allowedKinds)) lines.push(`${label}: ${problem}`);
  }
  if (!entities && !lines.length) lines.push(`${file}: holds no entity`);
  return { lines, entities };
}

async function main(argv) {
  const at = argv.indexOf('--kinds');
  if (at < 0 || !argv[at + 1] || argv.length < 3) {
    process.stderr.write('usage: backstage_validate.cjs --kinds KIND[,KIND...] FILE...\n');
    return 2;
  }
  const allowedKinds = argv[at + 1].split(',');
  const files = argv.filter((_, index) => index !== at && index !== at + 1);
  let failed = false;
  for (const file of files) {
    const { lines, entities } = await validateFile(file, allowedKinds);
    if (lines.length) {
      failed = true;
      process.stdout.write(lines.join('\n') + '\n');
    } else {
      const version = require('@backstage/catalog-model/package.json').version;
      process.stdout.write(`${file}: ${entities} valid (@backstage/catalog-model ${version})\n`);
    }
  }
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  status => process.exit(status),
  error => {
    process.stderr.write(`${error.stack || error}\n`);
    process.exit(1);
  },
);
