// The worker of the integ stack: two tasks on two queues.
import { defineConfig } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { createHandler, lambdaTask } from '../src/runtime';

export const sendEmail = lambdaTask({ name: 'integ.sendEmail', args: z.object({ to: z.string() }) }, async ({ to }) => `sent to ${to}`);
export const buildReport = lambdaTask({ name: 'integ.buildReport', args: z.object({ id: z.number() }), queue: 'reports' }, async ({ id }) => id);

export const handler = createHandler({
  tasks: [sendEmail, buildReport],
  ormConfig: () => defineConfig({ clientUrl: process.env.DATABASE_URL, entities: [] }),
});
