import type { Message } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';

let counter = 0;

/** An SQS record as the Lambda event source builds it from a received message. */
export function sqsRecordFromMessage(message: Message, queueArn: string): SQSRecord {
  const attrs = message.Attributes ?? {};
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attrs.ApproximateReceiveCount ?? '1',
      SentTimestamp: attrs.SentTimestamp ?? String(Date.now()),
      SenderId: attrs.SenderId ?? 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: attrs.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([k, v]) => [k, { dataType: v.DataType ?? 'String', stringValue: v.StringValue, stringListValues: [], binaryListValues: [] }]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: 'us-east-1',
  };
}

/** An SQSEvent from received messages. */
export function sqsEvent(messages: readonly Message[], queueArn: string): SQSEvent {
  return { Records: messages.map((m) => sqsRecordFromMessage(m, queueArn)) };
}

/** An SQS record with a given body (for bodies no producer would send). */
export function sqsRecord(body: string, queueArn = 'arn:aws:sqs:us-east-1:000000000000:default'): SQSRecord {
  counter++;
  return sqsRecordFromMessage({ MessageId: `00000000-0000-4000-8000-${String(counter).padStart(12, '0')}`, ReceiptHandle: `rh-${counter}`, Body: body }, queueArn);
}

/** A Lambda context whose remaining time counts down from `remainingMs`. */
export function lambdaContext(options: { remainingMs?: number; functionName?: string } = {}): Context {
  const deadline = Date.now() + (options.remainingMs ?? 900_000);
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: options.functionName ?? 'tasks-worker',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:tasks-worker',
    memoryLimitInMB: '512',
    awsRequestId: `req-${++counter}`,
    logGroupName: '/aws/lambda/tasks-worker',
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
