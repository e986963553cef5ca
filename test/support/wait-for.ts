// Waiting for a state rather than racing the clock: the tests poll the database (or anything) until it holds.

/** Polls `condition` every 20 ms until it holds; throws naming `what` after `timeoutMs` (generous: the machine may be busy). */
export async function waitFor(condition: () => Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
