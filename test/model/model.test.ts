// The model-based checker in CI: a fixed, seeded budget of programs (MODEL_RUNS / MODEL_SEED override it:
// `npm run check:model -- --runs N --seed S`), and the proof that it can fail.
import { startModelEnvironment, stopModelEnvironment } from './harness';
import { assertModel, runOptionsFromEnv } from './runner';
import { engine, itOnPostgres } from '../support/database';
import { quietLogs } from '../support/tasks-env';
import type { WorkerEnvironment } from '../support/worker-environment';

/** The CI budget: about 2 minutes on 2 busy cores. */
const CI_BUDGET = { runs: 20, seed: 20261203 };

describe(`The model checker: invariants I1–I5 over generated programs (${engine})`, () => {
  quietLogs();
  let env: WorkerEnvironment | undefined;
  beforeAll(async () => {
    if (engine === 'postgres') env = await startModelEnvironment();
  }, 60_000);
  afterAll(() => stopModelEnvironment(env));

  itOnPostgres('every program ends with I1–I5 holding', async () => {
    await assertModel(env!, runOptionsFromEnv(CI_BUDGET));
  }, 24 * 3600_000);
});
