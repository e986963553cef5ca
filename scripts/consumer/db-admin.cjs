// The consumer test's own database: node db-admin.cjs create|drop|url <name>. Connects with DATABASE_URL (a role
// with CREATEDB); `url` prints DATABASE_URL with the database name replaced. Uses the repository's pg (a devDependency).
const { Client } = require('pg');

async function main() {
  const [action, name] = process.argv.slice(2);
  if (!['create', 'drop', 'url'].includes(action) || !/^[a-z_][a-z0-9_]*$/.test(name ?? '')) {
    throw new Error('usage: node db-admin.cjs create|drop|url <lowercase_name>');
  }
  if (!process.env.DATABASE_URL) throw new Error('DATABASE_URL is not set');
  if (action === 'url') {
    const url = new URL(process.env.DATABASE_URL);
    url.pathname = `/${name}`;
    process.stdout.write(`${url.href}\n`);
    return;
  }
  const client = new Client({ connectionString: process.env.DATABASE_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    if (action === 'create') await client.query(`create database "${name}"`);
    else await client.query(`drop database if exists "${name}" with (force)`);
  } finally {
    await client.end();
  }
}

main().catch((error) => {
  console.error(`db-admin: ${error.message}`);
  process.exit(1);
});
