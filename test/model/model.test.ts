// The model-based checker in CI: a fixed, seeded budget of programs (MODEL_RUNS / MODEL_SEED override it:
// `npm run check:model -- --runs N --seed S`), and the proof that it can fail.
import fc from 'fast-check';
import { DeliverCommand } from './delivery-ops';
import { EnqueueCommand, InjectCommand, type ModelCommand } from './enqueue-ops';
import { useModelEnvironment } from './harness';
import { assertModel, checkModel, runOptionsFromEnv } from './runner';
import * as claims from '../../src/runtime/records/claim';
import type { TaskRow } from '../../src/runtime/records/row';
import { engine, itOnPostgres } from '../support/database';
import { quietLogs } from '../support/tasks-env';

/** The CI budget: about 2 minutes on 2 busy cores. */
const CI_BUDGET = { runs: 20, seed: 20261203 };

describe(`The model checker: invariants I1–I5 over generated programs (${engine})`, () => {
  quietLogs();
  const environment = useModelEnvironment(engine);

  itOnPostgres('every program ends with I1–I5 holding', async () => {
    await assertModel(environment(), runOptionsFromEnv(CI_BUDGET));
  }, 24 * 3600_000);

  itOnPostgres('it can fail: with a claim that takes a row twice, it reports I1 with a seed and a shrunk program', async () => {
    // Prepare: the library's single claim, broken on purpose — a delivery whose row is no longer QUEUED "claims" it anyway.
    const claim = claims.claim;
    const broken = jest.spyOn(claims, 'claim').mockImplementation(async (em, id, taskName, messageId) => {
      const row = await claim(em, id, taskName, messageId);
      if (row) return row;
      const [again] = await environment().db.sql<TaskRow>('select * from "task_record" where "id" = ? and "task_name" = ?', [id, taskName]);
      return again ?? null;
    });
    // Programs of three operations: enqueue, deliver, and a second copy of a row's message (SQS delivers at least once).
    const commands: [string, fc.Arbitrary<ModelCommand>, number][] = [
      ['enqueue', fc.constant(new EnqueueCommand('flush', [{ mode: 'ok', ms: 0, delay: 0 }])), 1],
      ['deliver', fc.constant(new DeliverCommand({ max: 10, concurrency: 1, deadline: false })), 1],
      ['inject', fc.constant(new InjectCommand('copy', 'ok', 0)), 1],
    ];
    try {
      // Act
      const details = await checkModel(environment(), { runs: 20, seed: 42, maxCommands: 5, exclude: ['hang', 'hang-savepoint', 'throw'] }, commands);
      // Assess
      expect(details.failed).toBe(true);
      const report = fc.defaultReportMessage(details)!;
      expect(report).toMatch(/seed: 42, path: "[\d:]+"/);
      expect(report).toMatch(/Counterexample: \[.*enqueue\(.*inject\(copy, row #0\)/);
      expect(report).toMatch(/Shrunk \d+ time/);
      expect(String((details.errorInstance as Error).message)).toMatch(/I1: .* ran 2 times \(side-effect log\)/);
    } finally {
      broken.mockRestore();
    }
  }, 600_000);
});
