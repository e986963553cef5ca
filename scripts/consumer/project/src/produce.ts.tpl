// README, Quick start 3: the app writes a user and enqueues the task in the same transaction.
import { initOrm } from './orm';
import { sendWelcomeEmail } from './tasks';
import { User } from './user';

async function main(): Promise<void> {
  const orm = await initOrm();
  try {
    let taskId = '';
    await orm.em.fork().transactional(async (em) => {
      const user = em.create(User, { email: 'ada@example.com' });
      await em.flush();
      taskId = sendWelcomeEmail.executeOnCommit({ userId: user.id, template: 'welcome' }, { em });
    });   // the TaskRecord row commits with the user; the SQS message is sent after the commit
    process.stdout.write(`${JSON.stringify({ taskId })}\n`);
  } finally {
    await orm.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
