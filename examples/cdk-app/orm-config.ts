import { defineConfig } from '@mikro-orm/postgresql';

/** The connection from the RDS secret's keys, which the worker receives as environment variables at cold start. */
export const ormConfig = () =>
  defineConfig({
    host: process.env.DB_HOST,
    port: Number(process.env.DB_PORT ?? 5432),
    user: process.env.DB_USER,
    password: process.env.DB_PASSWORD,
    dbName: process.env.DB_NAME,
    entities: [],
    driverOptions: { connection: { ssl: { rejectUnauthorized: false } } },
  });
