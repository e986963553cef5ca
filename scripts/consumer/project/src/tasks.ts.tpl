// README, Quick start 2: a task with a zod schema.
import { z } from 'zod';
import { lambdaTask } from 'cdk-lambda-tasks/runtime';
import { User } from './user';

export const sendWelcomeEmail = lambdaTask(
  {
    name: 'emails.sendWelcomeEmail',            // stable and unique: the name on the wire
    args: z.object({ userId: z.number().int(), template: z.string() }),
    softTimeout: 60, hardTimeout: 90,           // optional, seconds
  },
  async ({ userId, template }, ctx) => {
    const user = await ctx.em.findOneOrFail(User, userId);   // the task's own transaction
    ctx.logger.info('sending %s to user %d (%s)', template, userId, user.email);
    return 'sent';
  },
);
