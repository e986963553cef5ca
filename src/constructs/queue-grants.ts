import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import type { Queue } from 'aws-cdk-lib/aws-sqs';

/** What sending to a task queue needs: the SQS actions of `grantSendMessages`. */
const SEND_ACTIONS = ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'];
/** What sending to a queue with a customer-managed KMS key needs on the key (no wildcard actions, unlike `grantSendMessages`). */
const SEND_KEY_ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey'];

/**
 * Lets the grantee send to a task queue: the same SQS actions as `queue.grantSendMessages`, and on a
 * customer-managed key only `kms:GenerateDataKey` and `kms:Decrypt` (what SQS asks of a producer), where
 * `grantSendMessages` grants `kms:GenerateDataKey*` and `kms:ReEncrypt*`, which cdk-nag reports (IAM5).
 *
 * @example
 * import { grantSendTasks } from './queue-grants';
 *
 * grantSendTasks(tasksQueue, apiFunction);
 */
export function grantSendTasks(queue: Queue, grantee: IGrantable): void {
  queue.grants.actions(grantee, SEND_ACTIONS, { keyActions: SEND_KEY_ACTIONS });
}
