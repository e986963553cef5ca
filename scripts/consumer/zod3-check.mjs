// The zod 3.25 check, run in a fresh project with zod 3.25.x installed (cwd = that project):
// a task whose schema comes from 'zod/v4' is defined and validates; a classic zod 3 schema ('zod') is refused
// with TaskDefinitionError. Both module systems: the ES module build (import) and the CommonJS one (require).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function check(label, runtime, z4, z3) {
  const { lambdaTask, TaskDefinitionError, TaskValidationError } = runtime;
  const out = { build: label };
  const v4 = lambdaTask({ name: `zod3check.${label}.v4`, args: z4.object({ n: z4.number().int() }) }, async ({ n }) => n + 1);
  out.v4Defined = typeof v4 === 'function';
  let classic;
  try {
    lambdaTask({ name: `zod3check.${label}.classic`, args: z3.object({ n: z3.number() }) }, async () => 0);
  } catch (error) {
    classic = error;
  }
  out.classicError = classic ? { name: classic.name, instance: classic instanceof TaskDefinitionError, message: classic.message } : null;
  return { out, v4, TaskValidationError };
}

async function run(label, runtime, z4, z3) {
  const { out, v4, TaskValidationError } = check(label, runtime, z4, z3);
  out.v4Result = await v4({ n: 41 });   // a direct call validates its arguments, no EntityManager needed
  try {
    await v4({ n: 'x' });
    out.v4Invalid = 'accepted';
  } catch (error) {
    out.v4Invalid = error instanceof TaskValidationError ? 'TaskValidationError' : `${error?.name}: ${error?.message}`;
  }
  return out;
}

const zodVersion = JSON.parse(readFileSync(require.resolve('zod/package.json'), 'utf8')).version;
const esm = await run('esm', await import('cdk-lambda-tasks/runtime'), (await import('zod/v4')).z, (await import('zod')).z);
const cjs = await run('cjs', require('cdk-lambda-tasks/runtime'), require('zod/v4').z, require('zod').z);
const results = [esm, cjs];
const ok = zodVersion.startsWith('3.25.') && results.every((r) =>
  r.v4Defined && r.v4Result === 42 && r.v4Invalid === 'TaskValidationError'
  && r.classicError?.name === 'TaskDefinitionError' && r.classicError.instance);
process.stdout.write(`${JSON.stringify({ zod: zodVersion, ok, results })}\n`);
if (!ok) process.exit(1);
