// After a program: maintenance and deliveries until nothing changes any more (bounded), as a deployed system
// would reach by itself given time: relay, sweep and reconcile with thresholds that make them act now.
import { runTick } from './delivery-ops';
import { deliverBatch, PLENTY_MS, receive, rowsOf, sleep, type ProgramState } from './harness';
import { ledger } from './tasks';

const TERMINAL = new Set(['SUCCESS', 'FAILED', 'CANCELLED']);
const MAX_ROUNDS = 12;
/** Rounds in a row without any change before the system counts as quiet. */
const QUIET_ROUNDS = 2;

/** Delivers every visible message of the queue, batch after batch, until a receive comes back empty. */
async function deliverVisible(state: ProgramState): Promise<number> {
  let delivered = 0;
  for (let batch = await receive(state, 10, 0); batch.length > 0; batch = await receive(state, 10, 0)) {
    delivered += batch.length;
    await deliverBatch(state, batch, { concurrency: 2, remainingMs: PLENTY_MS });
  }
  return delivered;
}

/** Runs maintenance and deliveries to quiescence; returns how many rounds it took. */
export async function settle(state: ProgramState): Promise<number> {
  let quiet = 0;
  let last = '';
  for (let round = 1; round <= MAX_ROUNDS; round++) {
    if (!(await ledger.idle())) state.violations.push('I2: a task function was still running 15 s after the program');
    for (const step of ['relay', 'sweep', 'reconcile'] as const) await runTick(state, step);
    const delivered = await deliverVisible(state);
    const rows = await rowsOf(state);
    const counts = await state.env.fauxqs.count(state.queue.url);
    const open = rows.filter((r) => !TERMINAL.has(r.status));
    if (open.length === 0 && counts.total === 0) return round;
    const signature = JSON.stringify([rows.map((r) => [r.id, r.status]), counts]);
    quiet = delivered === 0 && signature === last && counts.delayed === 0 && counts.inFlight === 0 ? quiet + 1 : 0;
    last = signature;
    if (quiet >= QUIET_ROUNDS) return round;
    await sleep(counts.delayed > 0 || counts.inFlight > 0 ? 500 : 100);
  }
  return MAX_ROUNDS;
}
