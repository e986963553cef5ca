// Bundle size: the worker bundle of a consumer's task module as the construct builds it (bench/fixtures/worker.ts:
// createHandler + one task on one MikroORM entity with a zod schema), against the floor — the same app code
// with MikroORM, pg and zod behind a hand-written minimal SQS handler (bench/fixtures/floor-worker.ts), i.e.
// what the user's code needs anyway. Sizes are deterministic: one round, spread 0. The summary lists the
// packages over 50 KiB in each bundle and what makes the difference (library files, packages only in one).
import { rmSync } from 'node:fs';
import type { Metafile } from 'esbuild';
import { bundleFixtures, projectTempDir } from './fixtures/bundle-fixtures';
import { emit, run, summary } from './support';

const KIB = 1024;
const kib = (bytes: number) => `${(bytes / KIB).toFixed(1)} KiB`;

/** Where an input of the bundle comes from: its npm package, the library (src/…), or the app's code. */
function sourceOf(input: string): string {
  const match = /.*node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  if (match) return match[1];
  return input.startsWith('src/') ? 'cdk-lambda-tasks' : '(app)';
}

/** Bytes in the output by source (package), and by input file. */
function contributions(metafile: Metafile): { bySource: Map<string, number>; byInput: Map<string, number> } {
  const bySource = new Map<string, number>();
  const byInput = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      bySource.set(sourceOf(input), (bySource.get(sourceOf(input)) ?? 0) + bytesInOutput);
      byInput.set(input, (byInput.get(input) ?? 0) + bytesInOutput);
    }
  }
  return { bySource, byInput };
}

const largest = (sizes: Map<string, number>, over: number) =>
  [...sizes].filter(([, b]) => b > over).sort((a, b) => b[1] - a[1]).map(([name, b]) => `${name} ${kib(b)}`).join(', ');

run(async () => {
  const dir = projectTempDir('bench-bundle-');
  try {
    const { library, floor } = await bundleFixtures(dir);
    const over = emit('bundle.over_floor_bytes', library.bytes - floor.bytes, { unit: 'bytes', baseline: floor.bytes, aim: '<= 150000', ormDependent: true });
    emit('bundle.consumer_bytes', library.bytes, { unit: 'bytes', baseline: floor.bytes, ormDependent: true });

    const lib = contributions(library.metafile);
    const flo = contributions(floor.metafile);
    summary(`bundle: consumer worker ${kib(library.bytes)}, floor ${kib(floor.bytes)}: ${kib(over.value)} over the floor (ratio ${over.ratio})`);
    summary(`packages over 50 KiB in the consumer bundle: ${largest(lib.bySource, 50 * KIB)}`);
    summary(`packages over 50 KiB in the floor bundle: ${largest(flo.bySource, 50 * KIB)}`);

    // What the difference is made of: each source's bytes in the consumer bundle minus its bytes in the floor.
    const sources = new Set([...lib.bySource.keys(), ...flo.bySource.keys()]);
    const deltas = [...sources]
      .map((name) => ({ name, delta: (lib.bySource.get(name) ?? 0) - (flo.bySource.get(name) ?? 0), only: !flo.bySource.has(name) ? ' (consumer only)' : !lib.bySource.has(name) ? ' (floor only)' : '' }))
      .filter((d) => Math.abs(d.delta) >= KIB)
      .sort((a, b) => b.delta - a.delta);
    summary(`the difference by package (>= 1 KiB): ${deltas.map((d) => `${d.name}${d.only} ${d.delta > 0 ? '+' : ''}${kib(d.delta)}`).join(', ')}`);
    const libraryFiles = [...lib.byInput].filter(([input]) => input.startsWith('src/')).sort((a, b) => b[1] - a[1]);
    summary(`library files: ${libraryFiles.length} files, ${kib(libraryFiles.reduce((s, [, b]) => s + b, 0))}; the largest: ${libraryFiles.slice(0, 12).map(([input, b]) => `${input.replace(/^src\//, '')} ${kib(b)}`).join(', ')}`);
    const onlyInConsumer = [...lib.byInput].filter(([input]) => input.includes('node_modules/') && !(input in floor.metafile.inputs)).sort((a, b) => b[1] - a[1]);
    summary(`package files only in the consumer bundle: ${onlyInConsumer.length}, ${kib(onlyInConsumer.reduce((s, [, b]) => s + b, 0))}; the largest: ${onlyInConsumer.slice(0, 10).map(([input, b]) => `${input.replace(/.*node_modules\//, '')} ${kib(b)}`).join(', ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
