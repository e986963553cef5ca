// What the local harnesses (fauxqs, test databases) have started and not yet stopped, so that the end of a test
// file can stop whatever its own teardown missed (a failed or timed-out beforeAll, a forgotten afterAll). Each jest
// test file has its own module registry, so each file has its own list.

interface Running {
  readonly what: string;
  readonly stop: () => Promise<unknown>;
}

const running = new Set<Running>();
let ended = false;

/**
 * Records that `what` is running until the returned function is called (call it once it is stopped). After
 * {@link stopStillRunning} has run (the file has ended), anything that starts late is stopped at once.
 */
export function started(what: string, stop: () => Promise<unknown>): () => void {
  const entry: Running = { what, stop };
  if (ended) {
    void stop().catch(() => undefined);
    return () => undefined;
  }
  running.add(entry);
  return () => {
    running.delete(entry);
  };
}

/** What is still running, by description. */
export function stillRunning(): string[] {
  return [...running].map((r) => r.what);
}

/**
 * Stops everything still running and returns what it found, each with what became of it. Errors while stopping are
 * ignored, and no stop is awaited longer than `boundMs` (a stop that hangs is named, and the caller goes on).
 */
export async function stopStillRunning(boundMs = 20_000): Promise<string[]> {
  ended = true;
  const left = [...running];
  running.clear();
  return Promise.all(
    left.map(async (r) => {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`${r.what} (did not stop within ${boundMs} ms)`), boundMs)));
      const stopped = r.stop().then(
        () => r.what,
        () => `${r.what} (stopping it failed)`,
      );
      const outcome = await Promise.race([stopped, bound]);
      clearTimeout(timer);
      return outcome;
    }),
  );
}
