import type { IConstruct } from 'constructs';
import { failSynth } from './synth-error';

/** The context key CDK reads to skip bundling (`cdk synth --exclusively`, tests). */
const BUNDLING_STACKS = 'aws:cdk:bundling-stacks';

/**
 * Throws when esbuild cannot be resolved and bundling is not skipped: NodejsFunction would
 * otherwise fall back to Docker, which is slower and often absent (CI without a Docker engine).
 */
export function assertEsbuildAvailable(scope: IConstruct): void {
  const stacks = scope.node.tryGetContext(BUNDLING_STACKS) as unknown;
  if (Array.isArray(stacks) && stacks.length === 0) return;
  try {
    require.resolve('esbuild');
  } catch {
    failSynth('esbuild is not installed: add it to your devDependencies (npm i -D esbuild); Docker bundling is not used');
  }
}
