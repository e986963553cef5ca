// Prints one combination's summary as a JSON line prefixed `consumer-test:` (stdout), from what the combination's
// shell collected: node summary.mjs <project dir> <result file>. The result file holds `key=value` lines
// (the last value of a key wins); `seconds.<step>=<n>` lines become the `seconds` object.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const [projectDir, resultFile] = process.argv.slice(2);
const fields = {};
const seconds = {};
for (const line of existsSync(resultFile) ? readFileSync(resultFile, 'utf8').split('\n') : []) {
  const at = line.indexOf('=');
  if (at <= 0) continue;
  const key = line.slice(0, at);
  const value = line.slice(at + 1);
  if (key.startsWith('seconds.')) seconds[key.slice('seconds.'.length)] = Number(value);
  else fields[key] = value;
}

/** The installed version of a package in the project, read from its package.json (exports may hide it from require). */
function versionOf(name) {
  const file = path.join(projectDir, 'node_modules', ...name.split('/'), 'package.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')).version;
  } catch {
    return null;
  }
}

const packages = ['cdk-lambda-tasks', '@mikro-orm/core', '@mikro-orm/postgresql', '@mikro-orm/migrations', 'zod', 'typescript', 'aws-cdk-lib', 'aws-cdk', 'constructs', 'esbuild', 'tsx'];
const versions = Object.fromEntries(packages.map((name) => [name === 'aws-cdk' ? 'aws-cdk (CLI)' : name, versionOf(name)]));
const number = (value) => (value === undefined || value === '' ? null : Number(value));

const summary = {
  combination: fields.combination,
  ok: fields.ok === 'true',
  ...(fields.failedStep ? { failedStep: fields.failedStep } : {}),
  node: fields.node ?? null,
  versions,
  workerBundleBytes: number(fields.workerBundleBytes),
  taskStatus: fields.taskStatus ?? null,
  ...(fields.taskResult !== undefined ? { taskResult: fields.taskResult } : {}),
  ...(fields.typeErrors ? { typeErrors: JSON.parse(fields.typeErrors) } : {}),
  ...(fields.zod3 ? { zod3: JSON.parse(fields.zod3) } : {}),
  ...(fields.installNote ? { installNote: fields.installNote } : {}),
  seconds,
  wallSeconds: number(fields.wallSeconds),
};
process.stdout.write(`consumer-test: ${JSON.stringify(summary)}\n`);
