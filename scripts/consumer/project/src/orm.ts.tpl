// README, Quick start 1: the app's MikroORM config through withLambdaTasks, and the shipped migration.
import { MikroORM } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { withLambdaTasks } from 'cdk-lambda-tasks/runtime';
import { lambdaTasksMigrations } from 'cdk-lambda-tasks/runtime/migrations';
import { appMigrations } from './migrations';
import { UserSchema } from './user';

export async function initOrm(): Promise<MikroORM> {
  const orm = await MikroORM.init(withLambdaTasks({
    clientUrl: process.env.DATABASE_URL,
    entities: [UserSchema],
    extensions: [Migrator],
    migrations: { migrationsList: [...lambdaTasksMigrations, ...appMigrations] },
  }));
  await orm.migrator.up();   // MikroORM 7, and 6.6 too (where orm.getMigrator() is deprecated)
  return orm;
}
