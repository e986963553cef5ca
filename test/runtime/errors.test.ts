import { LambdaTasksError, NonRetriableError, toError, traceOf } from '../../src/runtime/errors';

/** toError must never throw, whatever it is given: it runs inside the library's catch blocks. */
function converted(thrown: unknown): Error {
  let error: Error | undefined;
  expect(() => (error = toError(thrown))).not.toThrow();
  expect(error).toBeInstanceOf(Error);
  expect(typeof error!.message).toBe('string');
  return error!;
}

describe('Function: toError()', () => {
  it('returns an Error as is', () => {
    const plain = new Error('plain');
    const own = new NonRetriableError('own');
    const type = new TypeError('type');
    expect(toError(plain)).toBe(plain);
    expect(toError(own)).toBe(own);
    expect(toError(type)).toBe(type);
    expect(toError(own)).toBeInstanceOf(LambdaTasksError);
  });

  it('keeps the text of a thrown string', () => {
    expect(converted('disk full').message).toBe('Non-Error thrown: disk full');
    expect(converted('').message).toBe('Non-Error thrown: ');
  });

  it('cuts a huge thrown string to 500 characters and says how long it was', () => {
    const huge = Array.from({ length: 10_000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
    const { message } = converted(huge);
    expect(message).toBe(`Non-Error thrown: ${huge.slice(0, 500)}… (10000 characters)`);
    expect(message).not.toContain(huge.slice(0, 501));
    const exactly = 'y'.repeat(500); // the limit itself is kept whole
    expect(converted(exactly).message).toBe(`Non-Error thrown: ${exactly}`);
  });

  it('cuts a huge thrown object’s JSON the same way', () => {
    const { message } = converted({ items: Array.from({ length: 2_000 }, (_, i) => i) });
    expect(message).toMatch(/^Non-Error thrown: \{"items":\[0,1,2,.*… \(\d+ characters\)$/);
    expect(message.length).toBeLessThan(600);
  });

  it('shows a plain thrown object as JSON', () => {
    expect(converted({ code: 42, reason: 'nope' }).message).toBe('Non-Error thrown: {"code":42,"reason":"nope"}');
    expect(converted(null).message).toBe('Non-Error thrown: null');
    expect(converted(7).message).toBe('Non-Error thrown: 7');
  });

  it('gives an Error for a thrown object with a cycle', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    expect(converted(cyclic).message).toBe('Non-Error thrown: [object Object]');
  });

  it('gives an Error for a thrown BigInt, and for an object holding one', () => {
    expect(converted(10n).message).toBe('Non-Error thrown: 10');
    expect(converted({ amount: 10n }).message).toBe('Non-Error thrown: [object Object]');
  });

  it('gives an Error for an Object.create(null) whose JSON and String() both throw', () => {
    const bare = Object.create(null) as Record<string, unknown>;
    bare.self = bare; // JSON.stringify throws (cycle) …
    expect(() => String(bare)).toThrow(TypeError); // … and so does String(): no toString, no valueOf
    expect(converted(bare).message).toBe('Non-Error thrown: [object Object]');
  });

  it('gives an Error for a throwing toJSON, also with a throwing toString', () => {
    const badJson = { toJSON: () => { throw new Error('toJSON'); } };
    expect(converted(badJson).message).toBe('Non-Error thrown: [object Object]');
    const badBoth = {
      toJSON: () => { throw new Error('toJSON'); },
      toString: () => { throw new Error('toString'); },
    };
    expect(converted(badBoth).message).toBe('Non-Error thrown: [object Object]');
  });

  it('gives an Error for values JSON cannot show (undefined, a symbol, a function)', () => {
    expect(converted(undefined).message).toBe('Non-Error thrown: undefined');
    expect(converted(Symbol('sym')).message).toBe('Non-Error thrown: Symbol(sym)');
    expect(converted(function named() { return 1; }).message).toContain('named');
  });

  // Both fail today: `thrown instanceof Error`, the first line of toError, runs the proxy's getPrototypeOf and throws.
  it('gives an Error for a thrown proxy whose getPrototypeOf trap throws', () => {
    const hostile = new Proxy({}, { getPrototypeOf: () => { throw new Error('trap'); } });
    expect(converted(hostile).message).toBe('Non-Error thrown: {}');
  });

  it('gives an Error for a thrown revoked proxy, which every way of describing throws on', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(() => Object.prototype.toString.call(proxy)).toThrow(TypeError);
    expect(converted(proxy).message).toBe('Non-Error thrown: object');
  });
});

describe('Function: traceOf()', () => {
  it('returns the stack of an Error', () => {
    const error = new Error('with stack');
    expect(traceOf(error)).toBe(error.stack);
  });

  it('returns the name and message of an Error without a stack', () => {
    const error = new TypeError('no stack');
    error.stack = undefined;
    expect(traceOf(error)).toBe('TypeError: no stack');
  });

  it('returns a string when the stack getter throws', () => {
    const error = new Error('hostile');
    Object.defineProperty(error, 'stack', { get: () => { throw new Error('no stack for you'); } });
    const trace = traceOf(error);
    expect(typeof trace).toBe('string');
    expect(trace.length).toBeGreaterThan(0);
  });

  it('returns a string when the stack is an object whose toString throws', () => {
    const error = new Error('odd');
    Object.defineProperty(error, 'stack', { value: { toString: () => { throw new Error('nope'); } } });
    expect(typeof traceOf(error)).toBe('string');
  });
});
