import { OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { failSynth } from './synth-error';

/** Packages the worker must not bundle: in the Lambda runtime (@aws-sdk), or knex dialects MikroORM never loads on PostgreSQL. */
export const WORKER_EXTERNAL_MODULES = ['@aws-sdk/*', 'better-sqlite3', 'sqlite3', 'libsql', 'mariadb', 'mysql', 'mysql2', 'oracledb', 'tedious'];

/** The Node.js option that makes stack traces (and so the tracebacks stored in task records) use the bundle's source map. */
export const ENABLE_SOURCE_MAPS = '--enable-source-maps';

/** The bundling a worker is built with, and whether its environment needs `NODE_OPTIONS=--enable-source-maps`. */
export interface WorkerBundling {
  /** The options given to `NodejsFunction`. */
  readonly bundling: BundlingOptions;
  /** Whether the bundle has a source map (the workers then get `--enable-source-maps`). */
  readonly sourceMap: boolean;
}

/**
 * Merges the user's bundling options over the worker's defaults (minified CommonJS, local esbuild). The
 * required externals are always kept and the user's `externalModules` added to them; an ESM format is
 * refused (the bundled CommonJS dependencies `require()` Node built-ins at load, which fails in an ESM
 * bundle with "Dynamic require of events is not supported"). `sourceMap` turns on `bundling.sourceMap`;
 * a `bundling.sourceMap: true` alone counts as `sourceMap: true`.
 *
 * @example
 * import { workerBundling } from './worker-bundling';
 *
 * const { bundling } = workerBundling({ externalModules: ['sharp'] }, undefined);
 * bundling.externalModules; // ['@aws-sdk/*', …, 'tedious', 'sharp']
 */
export function workerBundling(user: BundlingOptions = {}, sourceMap: boolean | undefined): WorkerBundling {
  if (user.format !== undefined && user.format !== OutputFormat.CJS) {
    failSynth(
      'bundling.format must be OutputFormat.CJS: the worker bundle needs CommonJS because the packages it bundles (MikroORM, knex, pg) ' +
        'call require() on Node.js built-ins when they load, which an ESM bundle cannot do ("Dynamic require of events is not supported")',
    );
  }
  if (sourceMap === false && user.sourceMap === true) failSynth('sourceMap is false but bundling.sourceMap is true: set only sourceMap');
  const withSourceMap = sourceMap ?? user.sourceMap ?? false;
  const externalModules = [...new Set([...WORKER_EXTERNAL_MODULES, ...(user.externalModules ?? [])])];
  return {
    bundling: {
      format: OutputFormat.CJS,
      minify: true,
      ...user,
      externalModules,
      ...(withSourceMap ? { sourceMap: true } : {}),
      forceDockerBundling: false,
    },
    sourceMap: withSourceMap,
  };
}
