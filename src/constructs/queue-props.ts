import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import { QueueEncryption, type IQueue, type QueueProps } from 'aws-cdk-lib/aws-sqs';
import { failSynth } from './synth-error';
import { MAX_MESSAGE_BYTES } from '../runtime/contract';

/** How long a dead letter is kept when `deadLetterQueueProps.retentionPeriod` is not given. */
const DEFAULT_DEAD_LETTER_RETENTION = Duration.days(14);
/** SQS's own retention when a queue sets none. */
const SQS_DEFAULT_RETENTION = Duration.days(4);

type Which = 'queueProps' | 'deadLetterQueueProps';

/** The settings the construct owns on both kinds of queue: each is refused, with its reason, when the user's props would change it. */
function checkShared(which: Which, props: QueueProps): void {
  if (props.queueName !== undefined) failSynth(`${which}.queueName is not supported: the props apply to every queue, so each gets a generated name`);
  if (props.fifo !== undefined || props.contentBasedDeduplication !== undefined || props.deduplicationScope !== undefined || props.fifoThroughputLimit !== undefined) {
    failSynth(`${which}: FIFO settings are not supported: the task queues are standard queues (FIFO is not built yet)`);
  }
  if (props.deadLetterQueue !== undefined) {
    failSynth(which === 'queueProps'
      ? 'queueProps.deadLetterQueue is not supported: each queue redrives to its own dead-letter queue after one receive (maxReceiveCount 1); configure that one with deadLetterQueueProps'
      : 'deadLetterQueueProps.deadLetterQueue is not supported: the dead-letter queues are read by DLQ reconciliation and have no dead-letter queue of their own');
  }
  if (props.enforceSSL === false) failSynth(`${which}.enforceSSL cannot be false: the queues refuse requests without TLS`);
  if (props.maxMessageSizeBytes !== undefined && props.maxMessageSizeBytes !== MAX_MESSAGE_BYTES) {
    failSynth(`${which}.maxMessageSizeBytes must be ${MAX_MESSAGE_BYTES} (1 MiB): the runtime sizes its messages to it`);
  }
  if (props.encryption === QueueEncryption.UNENCRYPTED) {
    failSynth(`${which}.encryption cannot be QueueEncryption.UNENCRYPTED: the queues are always encrypted (SQS-managed by default, or KMS with encryptionMasterKey)`);
  }
  if (props.encryption === QueueEncryption.KMS && props.encryptionMasterKey === undefined) {
    failSynth(`${which}.encryption QueueEncryption.KMS needs encryptionMasterKey: give your customer-managed key (the construct does not create a key per queue)`);
  }
}

/** Encryption as the user asked for it: a key alone means KMS; nothing means SQS-managed (the default). */
function encryptionOf(props: QueueProps): QueueEncryption {
  return props.encryption ?? (props.encryptionMasterKey ? QueueEncryption.KMS : QueueEncryption.SQS_MANAGED);
}

/**
 * Checks the user's `queueProps` and `deadLetterQueueProps` together: the settings the construct owns are
 * refused with a fixed message each, and the dead letters must be kept at least as long as the queue keeps
 * its messages (SQS keeps a message's first enqueue time when it moves it to the dead-letter queue).
 */
export function validateQueueProps(queue: QueueProps = {}, deadLetter: QueueProps = {}): void {
  checkShared('queueProps', queue);
  checkShared('deadLetterQueueProps', deadLetter);
  if (queue.visibilityTimeout !== undefined) {
    failSynth('queueProps.visibilityTimeout is not supported: it is derived from each queue\'s hardTimeout (6 × (hardTimeout + 30 s) + maxBatchingWindow)');
  }
  if (deadLetter.redriveAllowPolicy !== undefined) {
    failSynth('deadLetterQueueProps.redriveAllowPolicy is not supported: each task queue must be allowed to redrive into its dead-letter queue');
  }
  const queueRetention = queue.retentionPeriod ?? SQS_DEFAULT_RETENTION;
  const deadLetterRetention = deadLetter.retentionPeriod ?? DEFAULT_DEAD_LETTER_RETENTION;
  if (!queueRetention.isUnresolved() && !deadLetterRetention.isUnresolved() && deadLetterRetention.toSeconds({ integral: false }) < queueRetention.toSeconds({ integral: false })) {
    failSynth(
      `deadLetterQueueProps.retentionPeriod (${deadLetterRetention.toSeconds({ integral: false })} s) must be at least the queues' retention (${queueRetention.toSeconds({ integral: false })} s): ` +
        'SQS keeps a message\'s first enqueue time in the dead-letter queue, so a shorter retention deletes dead letters before reconciliation sees them',
    );
  }
}

/**
 * The props of one dead-letter queue: the user's `deadLetterQueueProps` (checked by `validateQueueProps`)
 * over the defaults (14 days; `removalPolicy` from the construct), with the construct's own settings on top
 * (encryption, TLS only, 1 MiB).
 */
export function deadLetterQueueProps(user: QueueProps | undefined, removalPolicy: RemovalPolicy | undefined): QueueProps {
  const props = user ?? {};
  return {
    ...props,
    removalPolicy: props.removalPolicy ?? removalPolicy,
    retentionPeriod: props.retentionPeriod ?? DEFAULT_DEAD_LETTER_RETENTION,
    encryption: encryptionOf(props),
    enforceSSL: true,
    maxMessageSizeBytes: MAX_MESSAGE_BYTES,
  };
}

/**
 * The props of one task queue: the user's `queueProps` (checked by `validateQueueProps`; `removalPolicy`
 * from the construct unless given there) with the construct's own settings on top (encryption, TLS only,
 * 1 MiB, the derived visibility timeout, the redrive to its dead-letter queue after one receive).
 */
export function taskQueueProps(
  user: QueueProps | undefined,
  removalPolicy: RemovalPolicy | undefined,
  visibilityTimeoutSeconds: number,
  deadLetterQueue: IQueue,
): QueueProps {
  const props = user ?? {};
  return {
    ...props,
    removalPolicy: props.removalPolicy ?? removalPolicy,
    encryption: encryptionOf(props),
    enforceSSL: true,
    maxMessageSizeBytes: MAX_MESSAGE_BYTES,
    visibilityTimeout: Duration.seconds(visibilityTimeoutSeconds),
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: 1 },
  };
}
