// The program runner: generates programs of operations and faults, runs each against the real library, lets it
// settle, and checks I1–I5. A failure is reported by fast-check with its seed, path and shrunk program.
import fc from 'fast-check';
import { deliverCommand, tickCommand } from './delivery-ops';
import { EnqueueCommand, enqueueCommand, injectCommand, invocation, type Model, type ModelCommand } from './enqueue-ops';
import { startProgram, type ProgramState } from './harness';
import { checkInvariants } from './invariants';
import { cancelCommand, retryCommand } from './operator-ops';
import { settle } from './quiescence';
import type { WorkerEnvironment } from '../support/worker-environment';

export interface ModelRunOptions {
  readonly runs: number;
  readonly seed: number;
  /** Replays one failure: the `path` fast-check printed with the seed. */
  readonly path?: string;
  readonly maxCommands?: number;
  /** Faults (and operations) left out of the programs, e.g. `duplicate` while its defect is known (see `faults()`). */
  readonly exclude?: readonly string[];
  /** Prints one line per program (its time, steps and rounds to quiescence) on stderr. */
  readonly verbose?: boolean;
}

/** Every operation by name, weighted: enqueues and deliveries make up most of a program. */
export const ALL_COMMANDS: readonly (readonly [string, fc.Arbitrary<ModelCommand>, number])[] = [
  ['enqueue', enqueueCommand, 3],
  ['deliver', deliverCommand, 3],
  ['inject', injectCommand, 2],
  ['cancel', cancelCommand, 1],
  ['retry', retryCommand, 2],
  ['tick', tickCommand, 1],
];

/** The commands without the excluded operations and faults (an operation excluded by name is left out whole). */
function allowedCommands(commands: readonly (readonly [string, fc.Arbitrary<ModelCommand>, number])[], exclude: readonly string[]): fc.Arbitrary<ModelCommand>[] {
  const excluded = new Set(exclude);
  return commands
    .filter(([name]) => !excluded.has(name))
    .flatMap(([, arb, weight]) => Array<fc.Arbitrary<ModelCommand>>(weight).fill(excluded.size === 0 ? arb : arb.filter((cmd) => !cmd.faults().some((f) => excluded.has(f)))));
}

/** A program's failure: the violations, and what each step did (the shrunk program is printed by fast-check). */
export class InvariantViolation extends Error {
  public override name = 'InvariantViolation';
  public constructor(public readonly violations: readonly string[], steps: readonly string[]) {
    super(`${violations.length} invariant violation(s):\n  ${violations.join('\n  ')}\nwhat the program did:\n  ${steps.join('\n  ')}`);
  }
}

/** The rows a program starts with: one committed transaction of up to 6 invocations (none once shrunk away). */
function openingOf(exclude: readonly string[]): fc.Arbitrary<EnqueueCommand | null> {
  const excluded = new Set(exclude);
  const invocations = fc.array(invocation, { maxLength: 6 }).map((list) => list.filter((i) => !excluded.has(i.mode)));
  return invocations.map((list) => (list.length > 0 ? new EnqueueCommand('transaction', list) : null));
}

type Program = [EnqueueCommand | null, Iterable<fc.AsyncCommand<Model, ProgramState, boolean>>];

/** The property: one generated program (an opening enqueue, then the commands), run, settled and checked. */
export function modelProperty(env: WorkerEnvironment, options: Pick<ModelRunOptions, 'maxCommands' | 'verbose' | 'exclude'>, commands = ALL_COMMANDS) {
  let program = 0;
  const allowed = allowedCommands(commands, options.exclude ?? []);
  return fc.asyncProperty(openingOf(options.exclude ?? []), fc.commands(allowed, { maxCommands: options.maxCommands ?? 12, size: '+1' }), async (opening, cmds) => {
    const started = Date.now();
    const state = await startProgram(env);
    await opening?.run({ enqueued: 0 }, state);
    await fc.asyncModelRun(() => ({ model: { enqueued: 0 }, real: state }), cmds);
    const rounds = await settle(state);
    const violations = await checkInvariants(state);
    if (options.verbose) process.stderr.write(`model: program ${++program} ${violations.length ? 'FAILED' : 'ok'} in ${Date.now() - started} ms, ${rounds} round(s) to quiescence: ${opening ? `${String(opening)} then ` : ''}${String(cmds)}\n`);
    if (violations.length > 0) throw new InvariantViolation(violations, state.log);
  });
}

/** Runs the checker; resolves to fast-check's details (`failed`, `seed`, `counterexample`…) without throwing. */
export async function checkModel(env: WorkerEnvironment, options: ModelRunOptions, commands = ALL_COMMANDS): Promise<fc.RunDetails<Program>> {
  return fc.check(modelProperty(env, options, commands), { numRuns: options.runs, seed: options.seed, path: options.path, endOnFailure: false });
}

/** Runs the checker and throws fast-check's report (seed, path, shrunk program, the violations) on a failure. */
export async function assertModel(env: WorkerEnvironment, options: ModelRunOptions, commands = ALL_COMMANDS): Promise<void> {
  const details = await checkModel(env, options, commands);
  if (!details.failed) return;
  const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  throw new Error(`${fc.defaultReportMessage(details) ?? 'the model checker failed'}\n${cause}`);
}

/** The run options from the environment (`npm run check:model -- --runs N --seed S` sets them), else the defaults. */
export function runOptionsFromEnv(defaults: { runs: number; seed: number }): ModelRunOptions {
  const number = (name: string, fallback: number): number => (process.env[name] ? Number(process.env[name]) : fallback);
  return {
    runs: number('MODEL_RUNS', defaults.runs),
    seed: number('MODEL_SEED', defaults.seed),
    path: process.env.MODEL_PATH || undefined,
    maxCommands: number('MODEL_MAX_COMMANDS', 12),
    verbose: process.env.MODEL_VERBOSE === '1',
    exclude: (process.env.MODEL_EXCLUDE ?? '').split(',').map((f) => f.trim()).filter(Boolean),
  };
}
