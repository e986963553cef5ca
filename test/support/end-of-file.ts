// Jest setupFilesAfterEnv: at the end of every test file, whatever a harness started and the file's own teardown
// did not stop (fauxqs, a test database) is stopped here, and the file fails saying what it left running. So a
// leaked fauxqs child or PGlite instance can neither hang the run nor pile up memory over the files that follow.
// A harness whose start-up failed has already stopped what it started: nothing is reported for it.
import { stopStillRunning } from '../../examples/support/still-running';

afterAll(async () => {
  const left = await stopStillRunning();
  if (left.length > 0) {
    throw new Error(`This test file left running: ${left.join(', ')}; stopped now. Stop what a file starts in its afterAll: stopWorkerEnvironment({ db, fauxqs }), db?.close(), fauxqs?.stop().`);
  }
}, 60_000);
