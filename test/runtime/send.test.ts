import { chunkEntries, delaySecondsUntil } from '../../src/runtime/sqs';

describe('Function: chunkEntries()', () => {
  const entries = (sizes: number[]) => sizes.map((bytes, i) => ({ i, bytes }));

  it('puts at most 10 entries in a SendMessageBatch', () => {
    expect(chunkEntries(entries(Array(25).fill(100))).map((b) => b.length)).toEqual([10, 10, 5]);
  });

  it('starts a new batch before the batch would exceed 1 MiB', () => {
    const batches = chunkEntries(entries([600_000, 400_000, 100_000, 1_000_000, 10]));
    expect(batches.map((b) => b.map((e) => e.i))).toEqual([[0, 1], [2], [3, 4]]);
    for (const batch of batches) expect(batch.reduce((sum, e) => sum + e.bytes, 0)).toBeLessThanOrEqual(1_048_576);
  });
});

describe('Function: delaySecondsUntil()', () => {
  it('is what is left of the delay, rounded up (never early), 0 when due; not capped (a task due later is deferred, not sent early)', () => {
    const now = Date.parse('2026-11-25T00:00:00Z');
    expect(delaySecondsUntil(new Date(now + 1500), now)).toBe(2);
    expect(delaySecondsUntil(new Date(now - 5000), now)).toBe(0);
    expect(delaySecondsUntil(new Date(now + 900_500), now)).toBe(901);
  });
});
