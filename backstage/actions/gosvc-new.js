'use strict';
// The scaffolder action `gosvc:new`: renders the answers of backstage/template.yaml into the task's workspace
// with `gosvc new --defaults`, so that copier.yml's rules judge them. A refused answer fails the step with
// gosvc's one-line message.
//
// The gosvc command comes from $GOSVC_COMMAND, else `gosvc` on PATH; the template it renders is its own clone,
// or $GOSVC_TEMPLATE, unless the step's input names one.

const { execFile } = require('node:child_process');
const path = require('node:path');
const { createBackendModule } = require('@backstage/backend-plugin-api');
const { createTemplateAction, scaffolderActionsExtensionPoint } = require('@backstage/plugin-scaffolder-node');

// An empty answer is one the form left blank: gosvc then derives its default from the other answers.
function dataArguments(answers) {
  return Object.entries(answers)
    .filter(([, value]) => value !== undefined && value !== null && value !== '')
    .flatMap(([name, value]) => ['--data', `${name}=${value}`]);
}

function runGosvc(args, env) {
  return new Promise((resolve, reject) => {
    execFile(env.GOSVC_COMMAND || 'gosvc', args, { env, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) {
        const said = stderr.trim().split('\n').filter(Boolean).pop();
        reject(new Error(said || `gosvc new failed: ${error.message}`));
      } else {
        resolve({ stdout, stderr });
      }
    });
  });
}

const gosvcNewAction = createTemplateAction({
  id: 'gosvc:new',
  description: 'Renders a Go service repository with gosvc new from the answers to copier.yml\'s questions',
  schema: {
    input: {
      answers: z =>
        z
          .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))
          .describe('Answers by question name; empty ones take the default'),
      targetPath: z => z.string().optional().describe('Folder of the workspace to render into (default: the workspace)'),
      template: z => z.string().optional().describe('Template git URL or path (default: the gosvc clone\'s own)'),
      vcsRef: z => z.string().optional().describe('Template version to render (default: the newest version tag)'),
    },
    output: {
      serviceName: z => z.string(),
      commit: z => z.string(),
    },
  },
  async handler(ctx) {
    const target = path.resolve(ctx.workspacePath, ctx.input.targetPath ?? '.');
    if (path.relative(ctx.workspacePath, target).startsWith('..')) {
      throw new Error(`targetPath ${ctx.input.targetPath} is outside the workspace`);
    }
    // The template's publish step makes the repository and its first commit: gosvc makes none of its own.
    const args = ['new', target, '--defaults', '--json', '--no-git', ...dataArguments(ctx.input.answers)];
    if (ctx.input.template) args.push('--template', ctx.input.template);
    if (ctx.input.vcsRef) args.push('--vcs-ref', ctx.input.vcsRef);
    ctx.logger.info(`gosvc ${args.join(' ')}`);
    const { stdout, stderr } = await runGosvc(args, process.env);
    for (const line of stderr.split('\n').filter(Boolean)) ctx.logger.info(line);
    const made = JSON.parse(stdout);
    ctx.output('serviceName', made.answers.service_name);
    ctx.output('commit', made.commit ?? '');
  },
});

// The backend module that adds the action to the scaffolder: `backend.add(require('./gosvc-new'))`.
const scaffolderModuleGosvc = createBackendModule({
  pluginId: 'scaffolder',
  moduleId: 'gosvc',
  register(reg) {
    reg.registerInit({
      deps: { scaffolder: scaffolderActionsExtensionPoint },
      async init({ scaffolder }) {
        scaffolder.addActions(gosvcNewAction);
      },
    });
  },
});

module.exports = scaffolderModuleGosvc;
module.exports.default = scaffolderModuleGosvc;
module.exports.gosvcNewAction = gosvcNewAction;
