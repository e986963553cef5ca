// An API function that enqueues a task in the same transaction as its own writes.
import { MikroORM } from '@mikro-orm/postgresql';
import { ormConfig } from './orm-config';
import { sendWelcomeEmail } from './tasks';
import { resolveSecretsIntoEnv, withLambdaTasks } from '../../src/runtime'; // 'cdk-lambda-tasks/runtime'

let orm: Promise<MikroORM> | undefined;

async function init(): Promise<MikroORM> {
  // DB_USER and DB_PASSWORD come from the RDS secret (LAMBDA_TASKS_SECRET_* references set by the stack).
  await resolveSecretsIntoEnv();
  return MikroORM.init(withLambdaTasks(ormConfig()));
}

export const handler = async (event: { userId: number }): Promise<{ taskId: string }> => {
  orm ??= init().catch((error: unknown) => {
    orm = undefined; // a failed cold start is retried by the next invocation
    throw error;
  });
  const em = (await orm).em.fork();
  let taskId = '';
  await em.transactional(async (tem) => {
    // ... the app's own writes with tem ...
    taskId = sendWelcomeEmail.executeOnCommit({ userId: event.userId, template: 'welcome' }, { em: tem });
  });
  return { taskId };
};

/** Closes the ORM (tests). */
export async function close(): Promise<void> {
  const pending = orm;
  orm = undefined;
  await (await pending)?.close(true);
}
