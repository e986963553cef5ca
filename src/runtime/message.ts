/**
 * The wire format: the SQS message body of a task, and the serialized invocation of `task.serialize()`.
 */
import { z } from 'zod/v4';
import { MAX_TIMEOUT_SECONDS } from './contract';
import { asciiJson } from './text';
import { formatZodIssues } from './zod-issues';

const taskNameSchema = z.string().min(1).max(255);
const kwargsSchema = z.record(z.string(), z.unknown());

/**
 * The SQS message body: `{ "task_id": "<uuid>", "task_name": "…", "kwargs": { … } }`.
 * `task_id` is the record's id; a body without it (django-lambda-tasks' format, from another producer) is accepted.
 */
export const messageBodySchema = z.object({
  task_id: z.uuid().transform((id) => id.toLowerCase()).optional(),
  task_name: taskNameSchema,
  kwargs: kwargsSchema,
});

/** A decoded SQS message body. */
export type MessageBody = z.infer<typeof messageBodySchema>;

/** The JSON body of a task message, in pure ASCII (see the character policy in text.ts): any storable value can be sent. */
export function encodeMessageBody(body: { task_id: string; task_name: string; kwargs: Record<string, unknown> }): string {
  return asciiJson({ task_id: body.task_id, task_name: body.task_name, kwargs: body.kwargs });
}

/**
 * The body to send again for a delivery of `row`: the original text when it names its row, else (a body without
 * task_id, from another producer, whose row is keyed by its first message id) the same task and arguments with
 * that row's id — a copy without it would get a second row under its own message id and leave this one QUEUED.
 */
export function bodyNamingRow(text: string, body: MessageBody, rowId: string): string {
  return body.task_id ? text : encodeMessageBody({ task_id: rowId, task_name: body.task_name, kwargs: body.kwargs });
}

/** Decodes an SQS body; the error text says what is wrong (not JSON, or which field). */
export function decodeMessageBody(text: string): { ok: true; body: MessageBody } | { ok: false; reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'body is not JSON' };
  }
  const parsed = messageBodySchema.safeParse(json);
  if (!parsed.success) {
    return { ok: false, reason: formatZodIssues(parsed.error.issues, 'body') };
  }
  return { ok: true, body: parsed.data };
}

/** The size in bytes of a UTF-8 message body. */
export function messageBytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/**
 * A serialized invocation, as `task.serialize()` returns it (django-lambda-tasks' format):
 * `{ "message": { "task_name", "kwargs" }, "delay": 0, "queue": "default" }`.
 */
export const serializedInvocationSchema = z.strictObject({
  message: z.strictObject({ task_name: taskNameSchema, kwargs: kwargsSchema }),
  delay: z.number().int().min(0).max(MAX_TIMEOUT_SECONDS),
  queue: z.string().min(1),
});

/** A serialized invocation (`task.serialize()`, `TaskInvocation.parse()`). */
export interface SerializedInvocation {
  readonly message: { readonly task_name: string; readonly kwargs: Record<string, unknown> };
  readonly delay: number;
  readonly queue: string;
}
