// A deployable app: PostgreSQL on RDS, two task queues with their workers, and an API function that enqueues.
import * as path from 'node:path';
import { App, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { InstanceClass, InstanceSize, InstanceType, InterfaceVpcEndpointAwsService, SubnetType, Vpc } from 'aws-cdk-lib/aws-ec2';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Credentials, DatabaseInstance, DatabaseInstanceEngine, PostgresEngineVersion } from 'aws-cdk-lib/aws-rds';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { LambdaTasksQueue, TaskSecret, WORKER_EXTERNAL_MODULES } from '../../src'; // in your app: 'cdk-lambda-tasks'

export class TasksExampleStack extends Stack {
  public constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const vpc = new Vpc(this, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'private', subnetType: SubnetType.PRIVATE_ISOLATED }] });
    // Workers in isolated subnets reach SQS and Secrets Manager through VPC endpoints (or give them a NAT).
    vpc.addInterfaceEndpoint('Sqs', { service: InterfaceVpcEndpointAwsService.SQS });
    vpc.addInterfaceEndpoint('SecretsManager', { service: InterfaceVpcEndpointAwsService.SECRETS_MANAGER });

    const db = new DatabaseInstance(this, 'Database', {
      engine: DatabaseInstanceEngine.postgres({ version: PostgresEngineVersion.VER_16 }),
      instanceType: InstanceType.of(InstanceClass.T4G, InstanceSize.MICRO),
      vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_ISOLATED },
      credentials: Credentials.fromGeneratedSecret('tasks'),
      databaseName: 'app',
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const secret = db.secret!;

    const tasks = new LambdaTasksQueue(this, 'Tasks', {
      entry: path.join(__dirname, 'worker.ts'),
      queues: { default: {}, reports: { hardTimeout: Duration.minutes(10), memorySize: 1024 } },
      // The RDS secret's keys, one variable each (read at cold start, before the ORM config is built).
      secrets: {
        DB_HOST: TaskSecret.fromSecret(secret, 'host'),
        DB_PORT: TaskSecret.fromSecret(secret, 'port'),
        DB_USER: TaskSecret.fromSecret(secret, 'username'),
        DB_PASSWORD: TaskSecret.fromSecret(secret, 'password'),
        DB_NAME: TaskSecret.fromSecret(secret, 'dbname'),
      },
      vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_ISOLATED },
      alarmTopic: new Topic(this, 'TaskAlarms', { enforceSSL: true }),
    });
    db.connections.allowDefaultPortFrom(tasks);

    const api = new NodejsFunction(this, 'Api', {
      entry: path.join(__dirname, 'api.ts'),
      runtime: Runtime.NODEJS_24_X,
      vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_ISOLATED },
      timeout: Duration.seconds(10),
      bundling: { externalModules: WORKER_EXTERNAL_MODULES, minify: true },
      environment: {
        DB_HOST: db.instanceEndpoint.hostname,
        DB_PORT: db.instanceEndpoint.port.toString(),
        DB_NAME: 'app',
        // The same secret references the workers get: the API resolves them at its cold start.
        LAMBDA_TASKS_SECRET_DB_USER: TaskSecret.fromSecret(secret, 'username').reference(),
        LAMBDA_TASKS_SECRET_DB_PASSWORD: TaskSecret.fromSecret(secret, 'password').reference(),
      },
    });
    tasks.grantEnqueue(api);
    db.connections.allowDefaultPortFrom(api);
    secret.grantRead(api);
  }
}

// `cdk synth` runs this file; a test imports the stack without synthesizing it.
if (require.main === module) {
  const app = new App();
  new TasksExampleStack(app, 'CdkLambdaTasksExample');
  app.synth();
}
