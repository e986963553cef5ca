/** The check every id a user passes in goes through before it reaches SQL. */
import { TaskValidationError } from './errors';

/** A UUID in any case (what `executeOnCommit` returns, and what PostgreSQL's `uuid` type reads). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** How much of a wrong value an error message shows. */
const SHOWN = 60;

/** The wrong value as the message shows it: a string quoted and escaped (no raw newlines), at most 60 characters; else its type. */
function shown(value: unknown): string {
  if (typeof value !== 'string') return value === null ? 'null' : `a ${typeof value}`;
  return JSON.stringify(value.length > SHOWN ? `${value.slice(0, SHOWN)}…` : value);
}

/**
 * Returns `value`, lower-cased, when it is a task id (a UUID, in any case); else throws
 * {@link TaskValidationError} naming the function and the argument, before any SQL runs.
 */
export function checkTaskId(caller: string, argument: string, value: unknown): string {
  if (typeof value === 'string' && UUID.test(value)) return value.toLowerCase();
  throw new TaskValidationError(
    '',
    argument,
    `${caller} was given ${shown(value)}, which is not a task id: pass the id that executeOnCommit returned (a UUID such as 0f8fad5b-d9cb-469f-a165-70867728950e)`,
  );
}
