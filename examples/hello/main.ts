// npm run example — the hello example on embedded PGlite (or DATABASE_URL), in eager mode;
// npm run example -- --worker — through a local SQS server to the local worker instead.
import { startHelloExample } from './app';

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  const worker = process.argv.includes('--worker') || process.env.EXAMPLE_MODE === 'worker';
  const example = await startHelloExample({ port, worker });
  console.log(`\ncdk-lambda-tasks hello example: ${example.url}`);
  console.log(`  trigger a task:  ${example.url}/trigger?name=Alice`);
  console.log(`  a slow one:      ${example.url}/trigger?name=Alice&task=slowReport`);
  console.log(`  a failing one:   ${example.url}/trigger?name=Alice&task=failsOnPurpose`);
  console.log('  Ctrl-C stops it.\n');
  const stop = () => {
    void example.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
