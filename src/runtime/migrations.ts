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
import { ALLOW_CANCELLED_SQL, CREATE_TASK_RECORD_SQL, DISALLOW_CANCELLED_SQL, DROP_TASK_RECORD_SQL, DROP_UNIQUE_ATTEMPT_SQL, UNIQUE_ATTEMPT_SQL } from './migration-sql';

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

/**
 * Makes `(root_id, attempt)` unique (`retryTask` under concurrency). Upgrades a table with rows, also one that
 * holds duplicate attempts: none is deleted; each later duplicate becomes a root of its own with a note (see
 * `UNIQUE_ATTEMPT_SQL`). Writes to the table wait while the index is built; it gives up after a 5 s lock timeout.
 */
export class Migration20261203000000LambdaTasksUniqueAttempt extends Migration {
  override async up(): Promise<void> {
    for (const sql of UNIQUE_ATTEMPT_SQL) this.addSql(sql);
  }

  override async down(): Promise<void> {
    for (const sql of DROP_UNIQUE_ATTEMPT_SQL) this.addSql(sql);
  }
}

/** Every migration of cdk-lambda-tasks, in order, as `migrationsList` entries (`{ name, class }`). */
export const lambdaTasksMigrations = [
  { name: 'Migration20261125000000LambdaTasks', class: Migration20261125000000LambdaTasks },
  { name: 'Migration20261201000000LambdaTasksCancelled', class: Migration20261201000000LambdaTasksCancelled },
  { name: 'Migration20261203000000LambdaTasksUniqueAttempt', class: Migration20261203000000LambdaTasksUniqueAttempt },
];
