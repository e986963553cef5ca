// The ES module build, next to tsc's CommonJS one: every entry point bundled with esbuild into <lib>/esm as
// .mjs, npm packages left as imports, with code splitting so the entry points share one copy of the
// library's modules (one task registry, one TaskRecord class). Usage: node scripts/build-esm.mjs [lib dir]
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const lib = path.resolve(process.argv[2] ?? path.join(root, 'lib'));

// esbuild never deletes: chunks of an earlier build (other hashes) would otherwise be published too.
rmSync(path.join(lib, 'esm'), { recursive: true, force: true });

await build({
  entryPoints: {
    'index': path.join(root, 'src/index.ts'),
    'runtime/index': path.join(root, 'src/runtime/index.ts'),
    'runtime/testing': path.join(root, 'src/runtime/testing.ts'),
    'runtime/migrations': path.join(root, 'src/runtime/migrations.ts'),
  },
  outdir: path.join(lib, 'esm'),
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  // The construct resolves esbuild with require.resolve: give the ES module build a require of its own. A
  // consumer's bundler that turns these modules into CommonJS (esbuild in the worker's NodejsFunction) empties
  // import.meta, and createRequire(undefined) would throw when the bundle loads: there, use its __filename.
  banner: { js: "import { createRequire as __ltCreateRequire } from 'node:module'; const require = __ltCreateRequire(import.meta.url || __filename);" },
  logLevel: 'warning',
});
