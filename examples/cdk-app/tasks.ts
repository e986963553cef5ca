import { z } from 'zod';
import { lambdaTask } from '../../src/runtime'; // in your app: 'cdk-lambda-tasks/runtime'

export const sendWelcomeEmail = lambdaTask(
  { name: 'emails.sendWelcomeEmail', args: z.object({ userId: z.number().int(), template: z.string() }), softTimeout: 60, hardTimeout: 90 },
  async ({ userId, template }, ctx) => {
    ctx.logger.info('sending %s to user %d', template, userId);
    return 'sent';
  },
);

export const buildMonthlyReport = lambdaTask(
  { name: 'reports.buildMonthlyReport', args: z.object({ month: z.string().regex(/^\d{4}-\d{2}$/) }), queue: 'reports', hardTimeout: 600 },
  async ({ month }, ctx) => {
    const [{ n }] = await ctx.em.getConnection().execute<{ n: number }[]>('select count(*)::int as n from task_record');
    return { month, taskRecords: n };
  },
);
