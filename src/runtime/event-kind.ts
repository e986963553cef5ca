/**
 * Which of its three events the worker was given: an SQS batch, a schedule tick or the maintenance event.
 * Anything else is refused loudly (the invocation fails), never answered with an empty batch response.
 */
import { ConfigurationError } from './errors';
import type { SqsEventLike } from './types';

/** Whether an event is an SQS batch: `Records` is a list of records with a `messageId` and a `body` (from `aws:sqs`). */
export function isSqsEvent(event: unknown): event is SqsEventLike {
  const records = (event as { Records?: unknown } | null)?.Records;
  if (!Array.isArray(records)) return false;
  return records.every((record: unknown) => {
    if (typeof record !== 'object' || record === null) return false;
    const { messageId, body, eventSource } = record as { messageId?: unknown; body?: unknown; eventSource?: unknown };
    return typeof messageId === 'string' && typeof body === 'string' && (eventSource === undefined || eventSource === 'aws:sqs');
  });
}

const EXCERPT_CHARS = 200;

/** The error for an event the worker does not recognise, naming what it got (its keys and the start of its JSON). */
export function unrecognisedEventError(event: unknown): ConfigurationError {
  let got: string;
  if (typeof event !== 'object' || event === null) {
    got = event === null ? 'null' : typeof event;
  } else {
    let json: string;
    try {
      json = JSON.stringify(event) ?? '';
    } catch {
      json = '(not JSON)';
    }
    const excerpt = json.length > EXCERPT_CHARS ? `${json.slice(0, EXCERPT_CHARS)}…` : json;
    got = `an object with keys ${Object.keys(event).map((k) => JSON.stringify(k)).join(', ') || '(none)'}: ${excerpt}`;
  }
  return new ConfigurationError(
    'event',
    'not an SQS event, a schedule event ({"lambdaTasks": "schedule", …}) or the maintenance event ({"lambdaTasks": "maintenance", "v": 1}); '
      + `got ${got}. Point only the construct's event source, schedules and maintenance rule at this worker`,
  );
}
