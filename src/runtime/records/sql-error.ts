/** SQLSTATE codes the records functions turn into outcomes of their own. */
export const SQLSTATE = { uniqueViolation: '23505', serializationFailure: '40001' } as const;

/**
 * The SQLSTATE and constraint of a driver error, also when the ORM wrapped it (MikroORM copies them onto its
 * exception, or keeps the driver's error as `cause`). Empty when there is none.
 */
export function sqlErrorOf(error: unknown): { code?: string; constraint?: unknown } {
  let e = error as { code?: unknown; constraint?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && typeof e === 'object' && depth < 4; depth += 1) {
    if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return { code: e.code, constraint: e.constraint };
    e = e.cause as typeof e;
  }
  return {};
}
