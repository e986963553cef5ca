import { z } from 'zod';
import { Greeting } from './entities';
import { lambdaTask } from '../../src/runtime'; // in your app: 'cdk-lambda-tasks/runtime'

/** Greets someone and stores the greeting: the example task of django-lambda-tasks. */
export const sayHello = lambdaTask(
  { name: 'hello.sayHello', args: z.object({ name: z.string().min(1).max(100) }) },
  async ({ name }, ctx) => {
    ctx.logger.info('saying hello to %s', name);
    ctx.em.persist(Object.assign(new Greeting(), { text: `Hello, ${name}!`, createdAt: new Date() }));
    return { greeting: `Hello, ${name}!` };
  },
);

/** Takes about two seconds (on PGlite it holds the only connection meanwhile: keep such tasks short there). */
export const slowReport = lambdaTask(
  { name: 'hello.slowReport', args: z.object({ name: z.string() }), softTimeout: 10, hardTimeout: 15 },
  async ({ name }, ctx) => {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    ctx.logger.info('report for %s done', name);
    return { pages: name.length, tookMs: 2000 };
  },
);

class LlamaUnavailable extends Error {
  override name = 'LlamaUnavailable';
}

/** Fails on purpose, so a FAILED record with its traceback can be seen. */
export const failsOnPurpose = lambdaTask(
  { name: 'hello.failsOnPurpose', args: z.object({ name: z.string() }) },
  async ({ name }) => {
    throw new LlamaUnavailable(`no llama available to greet ${name}`);
  },
);
