/**
 * The shipped migrations for your app's MikroORM migrator (`cdk-lambda-tasks/runtime/migrations`).
 * The worker never imports this module: it would pull `@mikro-orm/migrations` into the bundle.
 *
 * @example
 * import { Migrator } from '@mikro-orm/migrations';
 * import { lambdaTasksMigrations } from 'cdk-lambda-tasks/runtime/migrations';
 * const orm = await MikroORM.init(withLambdaTasks({
 *   extensions: [Migrator],
 *   migrations: { migrationsList: [...lambdaTasksMigrations, ...myMigrations] },
 * }));
 * await orm.migrator.up();
 */
import { Migration } from '@mikro-orm/migrations';
import { ALLOW_CANCELLED_SQL, CREATE_TASK_RECORD_SQL, DISALLOW_CANCELLED_SQL, DROP_TASK_RECORD_SQL } from './migration-sql';

/** Creates the `task_record` table, its CHECK constraints and indexes. */
export class Migration20261125000000LambdaTasks extends Migration {
  override async up(): Promise<void> {
    for (const sql of CREATE_TASK_RECORD_SQL) this.addSql(sql);
  }

  override async down(): Promise<void> {
    for (const sql of DROP_TASK_RECORD_SQL) this.addSql(sql);
  }
}

/**
 * Lets `task_record.status` be CANCELLED (`cancelTask`). Upgrades a table with rows in place: no row is read
 * or rewritten, and the table is locked only for the catalog change (see `ALLOW_CANCELLED_SQL`).
 */
export class Migration20261201000000LambdaTasksCancelled extends Migration {
  override async up(): Promise<void> {
    for (const sql of ALLOW_CANCELLED_SQL) this.addSql(sql);
  }

  override async down(): Promise<void> {
    for (const sql of DISALLOW_CANCELLED_SQL) this.addSql(sql);
  }
}

/** Every migration of cdk-lambda-tasks, in order, as `migrationsList` entries (`{ name, class }`). */
export const lambdaTasksMigrations = [
  { name: 'Migration20261125000000LambdaTasks', class: Migration20261125000000LambdaTasks },
  { name: 'Migration20261201000000LambdaTasksCancelled', class: Migration20261201000000LambdaTasksCancelled },
];
