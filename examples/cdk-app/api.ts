// An API function that enqueues a task in the same transaction as its own writes.
import { MikroORM } from '@mikro-orm/postgresql';
import { ormConfig } from './orm-config';
import { sendWelcomeEmail } from './tasks';
import { withLambdaTasks } from '../../src/runtime'; // 'cdk-lambda-tasks/runtime'

let orm: Promise<MikroORM> | undefined;

export const handler = async (event: { userId: number }): Promise<{ taskId: string }> => {
  orm ??= MikroORM.init(withLambdaTasks(ormConfig()));
  const em = (await orm).em.fork();
  let taskId = '';
  await em.transactional(async (tem) => {
    // ... the app's own writes with tem ...
    taskId = sendWelcomeEmail.executeOnCommit({ userId: event.userId, template: 'welcome' }, { em: tem });
  });
  return { taskId };
};
