import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { QueueEncryption, RedrivePermission, type QueueProps } from 'aws-cdk-lib/aws-sqs';
import { actionsOf, resourceOf, statementsOf, synth } from './helpers';
import type { LambdaTasksQueueProps } from '../../src';

const twoQueues = { default: {}, reports: {} };
const FOURTEEN_DAYS = 14 * 24 * 3600;

/** Each SQS queue of the construct by its kind ('Queue' or 'DeadLetterQueue') and queue name. */
const queueOf = (template: Template, name: string, kind: 'Queue' | 'DeadLetterQueue') => resourceOf(template, 'AWS::SQS::Queue', `Tasks${name}${kind}`);
/** A worker's statements with a KMS action. */
const kmsStatementsOf = (template: Template, queue: string) => statementsOf(template, queue).filter((s) => actionsOf([s]).some((a) => a.startsWith('kms:')));

describe('LambdaTasksQueue queue options: defaults', () => {
  const { template } = synth({ queues: twoQueues });

  it('Task queues keep SQS\'s own retention by default', () => {
    expect(queueOf(template, 'default', 'Queue').Properties.MessageRetentionPeriod).toBeUndefined();
  });

  it('Dead-letter queues keep messages 14 days by default', () => {
    expect(queueOf(template, 'default', 'DeadLetterQueue').Properties.MessageRetentionPeriod).toBe(FOURTEEN_DAYS);
  });

  it('Queues and dead-letter queues are encrypted by SQS by default, with no KMS key and no KMS permissions', () => {
    for (const kind of ['Queue', 'DeadLetterQueue'] as const) {
      expect(queueOf(template, 'reports', kind).Properties).toMatchObject({ SqsManagedSseEnabled: true });
      expect(queueOf(template, 'reports', kind).Properties.KmsMasterKeyId).toBeUndefined();
    }
    expect(kmsStatementsOf(template, 'default')).toEqual([]);
  });

  it('Queues and dead-letter queues are deleted with the stack and log groups kept by default (CDK\'s defaults)', () => {
    for (const queue of Object.values(template.findResources('AWS::SQS::Queue'))) expect(queue.DeletionPolicy).toBe('Delete');
    for (const logGroup of Object.values(template.findResources('AWS::Logs::LogGroup'))) expect(logGroup.DeletionPolicy).toBe('Retain');
  });
});

describe('LambdaTasksQueue queue options: overrides', () => {
  it('Task queues keep messages for queueProps.retentionPeriod, dead-letter queues still 14 days', () => {
    const { template } = synth({ queueProps: { retentionPeriod: Duration.days(7) } });
    expect(queueOf(template, 'default', 'Queue').Properties.MessageRetentionPeriod).toBe(7 * 24 * 3600);
    expect(queueOf(template, 'default', 'DeadLetterQueue').Properties.MessageRetentionPeriod).toBe(FOURTEEN_DAYS);
  });

  it('Dead-letter queues keep messages for deadLetterQueueProps.retentionPeriod', () => {
    const { template } = synth({ deadLetterQueueProps: { retentionPeriod: Duration.days(10) } });
    expect(queueOf(template, 'default', 'DeadLetterQueue').Properties.MessageRetentionPeriod).toBe(10 * 24 * 3600);
  });

  it('Queues and dead-letter queues use the customer-managed keys given, and workers and producers get the key permissions they need', () => {
    // Act
    const { template } = synth({ queues: twoQueues }, {
      prepare: (stack) => ({
        queueProps: { encryption: QueueEncryption.KMS, encryptionMasterKey: new Key(stack, 'QueueKey', { enableKeyRotation: true }) },
        deadLetterQueueProps: { encryption: QueueEncryption.KMS, encryptionMasterKey: new Key(stack, 'DeadLetterKey', { enableKeyRotation: true }) },
      }),
      extend: (tasks, stack) => {
        tasks.grantEnqueue(new LambdaFunction(stack, 'Api', { runtime: Runtime.NODEJS_24_X, handler: 'index.handler', code: Code.fromInline('exports.handler = async () => 1') }));
      },
    });

    // Assess
    for (const name of ['default', 'reports']) {
      expect(queueOf(template, name, 'Queue').Properties).toMatchObject({ KmsMasterKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^QueueKey/), 'Arn'] } });
      expect(queueOf(template, name, 'DeadLetterQueue').Properties).toMatchObject({ KmsMasterKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^DeadLetterKey/), 'Arn'] } });
      expect(queueOf(template, name, 'Queue').Properties.SqsManagedSseEnabled).toBeUndefined();
    }
    const keyActions = (queue: string, keyPrefix: string) =>
      actionsOf(kmsStatementsOf(template, queue).filter((s) => JSON.stringify(s.Resource).includes(keyPrefix)));
    expect(keyActions('reports', 'QueueKey')).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']); // no wildcard (cdk-nag IAM5)
    expect(keyActions('reports', 'DeadLetterKey')).toEqual([]);
    expect(keyActions('default', 'DeadLetterKey')).toEqual(['kms:Decrypt']); // DLQ reconciliation reads every DLQ
    const producerPolicy = Object.values(template.findResources('AWS::IAM::Policy')).find((p) => JSON.stringify(p.Properties.Roles).includes('ApiServiceRole'))!;
    expect(actionsOf(producerPolicy.Properties.PolicyDocument.Statement)).toEqual(['kms:Decrypt', 'kms:GenerateDataKey', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage']);
  });

  it('A key alone in queueProps means KMS encryption with that key', () => {
    const { template } = synth({}, { prepare: (s) => ({ queueProps: { encryptionMasterKey: new Key(s, 'QueueKey', { enableKeyRotation: true }) } }) });
    expect(queueOf(template, 'default', 'Queue').Properties).toMatchObject({ KmsMasterKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^QueueKey/), 'Arn'] } });
    expect(queueOf(template, 'default', 'DeadLetterQueue').Properties).toMatchObject({ SqsManagedSseEnabled: true });
  });

  it('Other queue props pass through while the construct\'s own settings stay (visibility timeout, redrive after one receive, TLS only, 1 MiB)', () => {
    // Act
    const { template } = synth({ queueProps: { receiveMessageWaitTime: Duration.seconds(20), enforceSSL: true, maxMessageSizeBytes: 1_048_576 } });

    // Assess
    expect(queueOf(template, 'default', 'Queue').Properties).toMatchObject({
      ReceiveMessageWaitTimeSeconds: 20,
      VisibilityTimeout: 6 * 330,
      MaximumMessageSize: 1_048_576,
      RedrivePolicy: { maxReceiveCount: 1, deadLetterTargetArn: { 'Fn::GetAtt': [expect.stringMatching(/^TasksdefaultDeadLetterQueue/), 'Arn'] } },
    });
    template.resourceCountIs('AWS::SQS::QueuePolicy', 2);
    template.allResourcesProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('removalPolicy RETAIN keeps the queues, dead-letter queues and log groups', () => {
    const { template } = synth({ queues: twoQueues, removalPolicy: RemovalPolicy.RETAIN });
    const resources = [...Object.values(template.findResources('AWS::SQS::Queue')), ...Object.values(template.findResources('AWS::Logs::LogGroup'))];
    expect(resources).toHaveLength(6);
    for (const resource of resources) expect(resource).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  it('removalPolicy DESTROY deletes the log groups too', () => {
    const { template } = synth({ removalPolicy: RemovalPolicy.DESTROY });
    for (const logGroup of Object.values(template.findResources('AWS::Logs::LogGroup'))) expect(logGroup.DeletionPolicy).toBe('Delete');
  });

  it('A removalPolicy in queueProps wins for the task queues', () => {
    const { template } = synth({ removalPolicy: RemovalPolicy.RETAIN, queueProps: { removalPolicy: RemovalPolicy.DESTROY } });
    expect(queueOf(template, 'default', 'Queue').DeletionPolicy).toBe('Delete');
    expect(queueOf(template, 'default', 'DeadLetterQueue').DeletionPolicy).toBe('Retain');
  });
});

describe('LambdaTasksQueue queue options: validation', () => {
  const given = (which: 'queueProps' | 'deadLetterQueueProps', props: QueueProps): Partial<LambdaTasksQueueProps> => ({ [which]: props });

  it.each<[string, Partial<LambdaTasksQueueProps>, string]>([
    ['a visibility timeout', given('queueProps', { visibilityTimeout: Duration.minutes(5) }),
      'queueProps.visibilityTimeout is not supported: it is derived from each queue\'s hardTimeout (6 × (hardTimeout + 30 s) + maxBatchingWindow)'],
    ['a dead-letter queue of the user\'s', { queueProps: { deadLetterQueue: { queue: {} as never, maxReceiveCount: 3 } } },
      'queueProps.deadLetterQueue is not supported: each queue redrives to its own dead-letter queue after one receive (maxReceiveCount 1); configure that one with deadLetterQueueProps'],
    ['a dead-letter queue for the dead-letter queues', { deadLetterQueueProps: { deadLetterQueue: { queue: {} as never, maxReceiveCount: 3 } } },
      'deadLetterQueueProps.deadLetterQueue is not supported: the dead-letter queues are read by DLQ reconciliation and have no dead-letter queue of their own'],
    ['enforceSSL: false', given('queueProps', { enforceSSL: false }), 'queueProps.enforceSSL cannot be false: the queues refuse requests without TLS'],
    ['enforceSSL: false on the dead-letter queues', given('deadLetterQueueProps', { enforceSSL: false }), 'deadLetterQueueProps.enforceSSL cannot be false: the queues refuse requests without TLS'],
    ['a smaller message size', given('queueProps', { maxMessageSizeBytes: 262_144 }), 'queueProps.maxMessageSizeBytes must be 1048576 (1 MiB): the runtime sizes its messages to it'],
    ['a queue name', given('queueProps', { queueName: 'tasks' }), 'queueProps.queueName is not supported: the props apply to every queue, so each gets a generated name'],
    ['a FIFO queue', given('queueProps', { fifo: true }), 'queueProps: FIFO settings are not supported: the task queues are standard queues (FIFO is not built yet)'],
    ['unencrypted queues', given('queueProps', { encryption: QueueEncryption.UNENCRYPTED }),
      'queueProps.encryption cannot be QueueEncryption.UNENCRYPTED: the queues are always encrypted (SQS-managed by default, or KMS with encryptionMasterKey)'],
    ['KMS without a key', given('deadLetterQueueProps', { encryption: QueueEncryption.KMS }),
      'deadLetterQueueProps.encryption QueueEncryption.KMS needs encryptionMasterKey: give your customer-managed key (the construct does not create a key per queue)'],
    ['a redrive allow policy on the dead-letter queues', given('deadLetterQueueProps', { redriveAllowPolicy: { redrivePermission: RedrivePermission.DENY_ALL } }),
      'deadLetterQueueProps.redriveAllowPolicy is not supported: each task queue must be allowed to redrive into its dead-letter queue'],
    ['dead letters kept shorter than the messages', { queueProps: { retentionPeriod: Duration.days(14) }, deadLetterQueueProps: { retentionPeriod: Duration.days(7) } },
      'deadLetterQueueProps.retentionPeriod (604800 s) must be at least the queues\' retention (1209600 s): SQS keeps a message\'s first enqueue time in the dead-letter queue, so a shorter retention deletes dead letters before reconciliation sees them'],
    ['dead letters kept shorter than SQS\'s default 4 days', { deadLetterQueueProps: { retentionPeriod: Duration.days(3) } },
      'deadLetterQueueProps.retentionPeriod (259200 s) must be at least the queues\' retention (345600 s): SQS keeps a message\'s first enqueue time in the dead-letter queue, so a shorter retention deletes dead letters before reconciliation sees them'],
  ])('refuses %s with a fixed message', (_title, props, message) => {
    expect(() => synth(props)).toThrow(new Error(`LambdaTasksQueue: ${message}`));
  });
});
