// README, Quick start 4: follow the task through its record.
import { getTask } from 'cdk-lambda-tasks/runtime';
import { initOrm } from './orm';

async function main(taskId: string): Promise<void> {
  const orm = await initOrm();
  try {
    const record = await getTask(orm.em, taskId);
    process.stdout.write(`${JSON.stringify({ status: record?.status ?? null, result: record?.result ?? null, taskName: record?.taskName ?? null })}\n`);
  } finally {
    await orm.close();
  }
}

main(process.argv[2] ?? '').catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
