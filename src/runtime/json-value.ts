import { unstorableFault } from './text';

/**
 * Whether a value is a Date of any realm (a vm context, an iframe, another bundle's globals), not only of this
 * one: `instanceof Date` misses those. The check reads the internal time value, so a look-alike object is no Date.
 */
export function isDate(value: unknown): value is Date {
  if (value instanceof Date) return true;
  if (typeof value !== 'object' || value === null) return false;
  try {
    Date.prototype.getTime.call(value);
    return true;
  } catch {
    return false;
  }
}

/** The deepest nesting of arrays and objects a stored value may have. */
export const MAX_JSON_DEPTH = 1000;

/**
 * The reason a value cannot be stored as JSON in PostgreSQL, with its path, or null when it round-trips:
 * not JSON, a string or key PostgreSQL refuses (U+0000, lone surrogates), or nested too deeply.
 */
function jsonFault(value: unknown, path: string, seen: Set<object>, depth: number): string | null {
  switch (typeof value) {
    case 'string': {
      const fault = unstorableFault(value);
      return fault ? `${path} ${fault}` : null;
    }
    case 'boolean':
      return null;
    case 'number':
      return Number.isFinite(value) ? null : `${path} is ${value}, which JSON cannot hold`;
    case 'bigint':
      return `${path} is a BigInt, which JSON cannot hold (use a string or z.coerce.bigint() with a string input)`;
    case 'function':
    case 'symbol':
      return `${path} is a ${typeof value}, which JSON cannot hold`;
    case 'undefined':
      return `${path} is undefined inside an array, which JSON turns into null`;
    case 'object': {
      if (value === null) return null;
      if (seen.has(value)) return `${path} is a circular reference`;
      if (depth >= MAX_JSON_DEPTH) return `${path} is nested more than ${MAX_JSON_DEPTH} levels deep`;
      if (isDate(value)) {
        return `${path} is a Date, which JSON turns into a string (give an ISO string, e.g. z.iso.datetime(), or z.coerce.date() with a string input)`;
      }
      seen.add(value);
      try {
        if (Array.isArray(value)) {
          for (let i = 0; i < value.length; i++) {
            const fault = jsonFault(value[i], `${path}[${i}]`, seen, depth + 1);
            if (fault) return fault;
          }
          return null;
        }
        const proto = Object.getPrototypeOf(value) as unknown;
        if (proto !== Object.prototype && proto !== null) {
          return `${path} is a ${(value as object).constructor?.name ?? 'non-plain object'}, which JSON does not round-trip (use plain objects and arrays)`;
        }
        for (const [key, item] of Object.entries(value)) {
          if (item === undefined) continue;
          const keyFault = unstorableFault(key);
          if (keyFault) return `a key of ${path} ${keyFault}`;
          const fault = jsonFault(item, `${path}.${key}`, seen, depth + 1);
          if (fault) return fault;
        }
        return null;
      } finally {
        seen.delete(value);
      }
    }
    default:
      return `${path} cannot be stored as JSON`;
  }
}

/** Why a value would not survive a JSON round trip (with its path under `root`), or null when it would. */
export function jsonValueFault(value: unknown, root: string): string | null {
  return jsonFault(value, root, new Set(), 0);
}

/**
 * Returns the JSON form of a value (object keys whose value is undefined dropped), or
 * throws `makeError(reason)` when the value would not survive a JSON round trip.
 */
export function toJsonValue<T>(value: T, root: string, makeError: (reason: string) => Error): T {
  const fault = jsonFault(value, root, new Set(), 0);
  if (fault) throw makeError(fault);
  return JSON.parse(JSON.stringify(value)) as T;
}
