import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const APP_DIR = path.resolve(__dirname, '../../examples/cdk-app');
const CDK = path.resolve(__dirname, '../../node_modules/aws-cdk/bin/cdk');

describe('The example CDK app', () => {
  it('synthesises offline with the pinned CLI (`cdk synth --no-notices`): two queues, an RDS secret mapped key by key, an API granted enqueue', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'cdk-app-'));
    try {
      execFileSync(process.execPath, [CDK, 'synth', '--no-notices', '-q', '-o', out], {
        cwd: APP_DIR,
        env: { ...process.env, CDK_DISABLE_VERSION_CHECK: 'true', CDK_DISABLE_CLI_TELEMETRY: 'true', NODE_OPTIONS: '' },
        stdio: 'pipe',
        timeout: 240_000,
      });
      const template = JSON.parse(readFileSync(path.join(out, 'CdkLambdaTasksExample.template.json'), 'utf8')) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
      const ofType = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);
      expect(ofType('AWS::SQS::Queue')).toHaveLength(4);
      expect(ofType('AWS::Events::Rule')).toHaveLength(1);
      const functions = ofType('AWS::Lambda::Function').map(([id, r]) => [id, JSON.stringify(r.Properties)] as const);
      const workers = functions.filter(([id]) => id.startsWith('Tasks'));
      expect(workers).toHaveLength(2);
      for (const [, props] of workers) {
        for (const name of ['DB_HOST', 'DB_PORT', 'DB_USER', 'DB_PASSWORD', 'DB_NAME']) expect(props).toContain(`LAMBDA_TASKS_SECRET_${name}`);
      }
      const api = functions.find(([id]) => id.startsWith('Api'))!;
      expect(api[1]).toContain('LAMBDA_TASKS_QUEUES');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 300_000);
});
