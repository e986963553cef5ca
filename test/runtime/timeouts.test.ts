import { TimeoutRangeError } from '../../src/runtime/errors';
import { resolveTimeouts } from '../../src/runtime/timeouts';

const defaults = { defaultSoftTimeout: 270, defaultHardTimeout: 300, queueMaxHardTimeout: 900, queue: 'default' };

describe('Function: resolveTimeouts()', () => {
  it('uses the defaults when the task gives none', () => {
    expect(resolveTimeouts('t', {}, defaults)).toEqual({ softTimeout: 270, hardTimeout: 300 });
  });

  it('caps the default hard timeout at the queue maximum and keeps soft below it', () => {
    expect(resolveTimeouts('t', {}, { ...defaults, queueMaxHardTimeout: 120 })).toEqual({ softTimeout: 119, hardTimeout: 120 });
  });

  it('with only hard given, soft is min(default soft, hard − 1)', () => {
    expect(resolveTimeouts('t', { hardTimeout: 30 }, defaults)).toEqual({ softTimeout: 29, hardTimeout: 30 });
    expect(resolveTimeouts('t', { hardTimeout: 600 }, defaults)).toEqual({ softTimeout: 270, hardTimeout: 600 });
  });

  it('with only soft given, hard is max(default hard, soft + 1) capped at the queue maximum', () => {
    expect(resolveTimeouts('t', { softTimeout: 60 }, defaults)).toEqual({ softTimeout: 60, hardTimeout: 300 });
    expect(resolveTimeouts('t', { softTimeout: 400 }, defaults)).toEqual({ softTimeout: 400, hardTimeout: 401 });
  });

  it('refuses a soft timeout that cannot fit below the queue maximum', () => {
    expect(() => resolveTimeouts('t', { softTimeout: 400 }, { ...defaults, queueMaxHardTimeout: 300 })).toThrow(TimeoutRangeError);
  });

  it('refuses a hard timeout above the queue maximum, naming the task and queue', () => {
    expect(() => resolveTimeouts('emails.send', { hardTimeout: 600 }, { ...defaults, queueMaxHardTimeout: 300 })).toThrow(
      'Task "emails.send": hardTimeout: 600 s exceeds the maxHardTimeout of queue "default" (300 s)',
    );
  });

  it('keeps both when both are given', () => {
    expect(resolveTimeouts('t', { softTimeout: 25, hardTimeout: 30 }, defaults)).toEqual({ softTimeout: 25, hardTimeout: 30 });
  });
});
