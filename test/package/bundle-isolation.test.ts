import * as path from 'node:path';
import { build, type Plugin } from 'esbuild';

const ROOT = path.resolve(__dirname, '../..');
const CDK_PACKAGE = /^(aws-cdk-lib|constructs)(\/|$)/;

/** Bundles an entry point with every npm package external, and returns which CDK packages it imports and from where. */
async function cdkImportsOf(entry: string): Promise<string[]> {
  const found: string[] = [];
  const recordPackages: Plugin = {
    name: 'record-packages',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (CDK_PACKAGE.test(args.path)) found.push(`${args.path} ← ${path.relative(ROOT, args.importer)}`);
        return { path: args.path, external: true };
      });
    },
  };
  await build({ entryPoints: [entry], bundle: true, platform: 'node', write: false, logLevel: 'silent', plugins: [recordPackages] });
  return found;
}

describe('The runtime bundle', () => {
  it('does not import aws-cdk-lib or constructs from cdk-lambda-tasks/runtime', async () => {
    expect(await cdkImportsOf(path.join(ROOT, 'src/runtime/index.ts'))).toEqual([]);
  });

  it('does not import them from the testing and migrations subpaths either', async () => {
    expect(await cdkImportsOf(path.join(ROOT, 'src/runtime/testing.ts'))).toEqual([]);
    expect(await cdkImportsOf(path.join(ROOT, 'src/runtime/migrations.ts'))).toEqual([]);
  });

  it('would catch a runtime module that imports aws-cdk-lib (the check can fail)', async () => {
    const found = await cdkImportsOf(path.join(__dirname, 'fixtures/runtime-importing-cdk.ts'));
    expect(found).toEqual([expect.stringMatching(/^aws-cdk-lib ← test\/package\/fixtures\/runtime-importing-cdk\.ts$/)]);
  });
});
