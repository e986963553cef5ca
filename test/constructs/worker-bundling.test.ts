import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { synth, workerAssetDirectory, workerOf } from './helpers';
import { WORKER_EXTERNAL_MODULES } from '../../src';
import { workerBundling } from '../../src/constructs/worker-bundling';

const THROWING_ENTRY = path.join(__dirname, 'fixtures', 'throwing-worker.ts');
const ESM_MESSAGE =
  'LambdaTasksQueue: bundling.format must be OutputFormat.CJS: the worker bundle needs CommonJS because the packages it bundles (MikroORM, knex, pg) ' +
  'call require() on Node.js built-ins when they load, which an ESM bundle cannot do ("Dynamic require of events is not supported")';

describe('Function: workerBundling()', () => {
  it('bundles minified CommonJS with the required externals, locally, without a source map by default', () => {
    expect(workerBundling(undefined, undefined)).toEqual({
      bundling: { format: OutputFormat.CJS, minify: true, externalModules: WORKER_EXTERNAL_MODULES, forceDockerBundling: false },
      sourceMap: false,
    });
  });

  it('adds the user\'s externalModules to the required ones, each once', () => {
    const { bundling } = workerBundling({ externalModules: ['sharp', 'oracledb', '@aws-sdk/*'] }, undefined);
    expect(bundling.externalModules).toEqual([...WORKER_EXTERNAL_MODULES, 'sharp']);
  });

  it('keeps the user\'s other options and never falls back to Docker', () => {
    const { bundling } = workerBundling({ minify: false, forceDockerBundling: true, target: 'node22' }, undefined);
    expect(bundling).toMatchObject({ minify: false, target: 'node22', forceDockerBundling: false, format: OutputFormat.CJS });
  });

  it('accepts OutputFormat.CJS given explicitly', () => {
    expect(workerBundling({ format: OutputFormat.CJS }, undefined).bundling.format).toBe(OutputFormat.CJS);
  });

  it('refuses OutputFormat.ESM with a fixed message saying why the bundle needs CommonJS', () => {
    expect(() => workerBundling({ format: OutputFormat.ESM }, undefined)).toThrow(new Error(ESM_MESSAGE));
  });

  it('turns bundling.sourceMap on when sourceMap is true', () => {
    expect(workerBundling({}, true)).toMatchObject({ bundling: { sourceMap: true }, sourceMap: true });
  });

  it('counts bundling.sourceMap: true alone as sourceMap: true', () => {
    expect(workerBundling({ sourceMap: true }, undefined)).toMatchObject({ bundling: { sourceMap: true }, sourceMap: true });
  });

  it('refuses sourceMap: false with bundling.sourceMap: true with a fixed message', () => {
    expect(() => workerBundling({ sourceMap: true }, false)).toThrow(new Error('LambdaTasksQueue: sourceMap is false but bundling.sourceMap is true: set only sourceMap'));
  });
});

describe('LambdaTasksQueue bundling', () => {
  it('refuses an ESM bundle at synth with the fixed message', () => {
    expect(() => synth({ bundling: { format: OutputFormat.ESM } })).toThrow(new Error(ESM_MESSAGE));
  });

  it('Workers have no NODE_OPTIONS by default (no source map)', () => {
    const { template } = synth();
    expect(workerOf(template, 'default').Environment.Variables.NODE_OPTIONS).toBeUndefined();
  });

  it('Workers get NODE_OPTIONS=--enable-source-maps when sourceMap is true', () => {
    const { template } = synth({ sourceMap: true, queues: { default: {}, reports: {} } });
    for (const queue of ['default', 'reports']) expect(workerOf(template, queue).Environment.Variables.NODE_OPTIONS).toBe('--enable-source-maps');
  });

  it('appends --enable-source-maps to the user\'s NODE_OPTIONS, once', () => {
    const { template } = synth({
      sourceMap: true,
      environment: { NODE_OPTIONS: '--max-old-space-size=400' },
      queues: { default: {}, reports: { environment: { NODE_OPTIONS: '--enable-source-maps --no-warnings' } } },
    });
    expect(workerOf(template, 'default').Environment.Variables.NODE_OPTIONS).toBe('--max-old-space-size=400 --enable-source-maps');
    expect(workerOf(template, 'reports').Environment.Variables.NODE_OPTIONS).toBe('--enable-source-maps --no-warnings');
  });

  it('leaves the user\'s NODE_OPTIONS alone without a source map', () => {
    const { template } = synth({ environment: { NODE_OPTIONS: '--max-old-space-size=400' } });
    expect(workerOf(template, 'default').Environment.Variables.NODE_OPTIONS).toBe('--max-old-space-size=400');
  });
});

describe('The worker asset, bundled for real', () => {
  it('keeps the required externals when the user adds one (it used to fail with "Could not resolve oracledb")', () => {
    // Act
    const { app } = synth({ bundling: { externalModules: ['sharp'] } }, { bundle: true });

    // Assess
    const bundle = fs.readFileSync(path.join(workerAssetDirectory(app), 'index.js'), 'utf8');
    expect(bundle).toContain('fixture.sendFixtureEmail');
    // MikroORM 6's knex requires every SQL driver; MikroORM 7 (kysely) loads none of them.
    const mikroOrm = JSON.parse(fs.readFileSync(path.join(__dirname, '../../node_modules/@mikro-orm/core/package.json'), 'utf8')) as { version: string };
    if (mikroOrm.version.startsWith('6.')) expect(bundle).toMatch(/require\("oracledb"\)/);
    else expect(bundle).not.toContain('oracledb');
  }, 120_000);

  it('has a source map with sourceMap: true, and with the workers\' NODE_OPTIONS its stack traces point into the TypeScript source', () => {
    // Prepare
    const { app, template } = synth({ entry: THROWING_ENTRY, sourceMap: true }, { bundle: true });
    const asset = workerAssetDirectory(app);
    const throwLine = fs.readFileSync(THROWING_ENTRY, 'utf8').split('\n').findIndex((line) => line.includes('throw new Error')) + 1;
    const stackOf = (nodeOptions?: string) =>
      execFileSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(asset, 'index.js'))}).handler().catch((e) => console.log(e.stack))`], {
        env: { PATH: process.env.PATH, ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) },
        encoding: 'utf8',
      });

    // Act
    const mapped = stackOf(workerOf(template, 'default').Environment.Variables.NODE_OPTIONS);
    const unmapped = stackOf();

    // Assess
    expect(fs.existsSync(path.join(asset, 'index.js.map'))).toBe(true);
    expect(mapped).toContain('Error: fixture failure');
    expect(mapped).toMatch(new RegExp(`throwing-worker\\.ts:${throwLine}:\\d+`));
    expect(unmapped).toMatch(/index\.js:\d+:\d+/); // without the flag the same bundle points at index.js: the check can fail
    expect(unmapped).not.toContain('throwing-worker.ts');
  }, 120_000);
});
