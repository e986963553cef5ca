import { EntitySchema, type EventSubscriber } from '@mikro-orm/core';
import { Migration } from '@mikro-orm/migrations';
import { lambdaTasksMigrations } from '../../src/runtime/migrations';
import { TaskDispatchSubscriber } from '../../src/runtime/outbox';
import { TaskRecord, TaskRecordSchema, TaskStatus } from '../../src/runtime/record';
import { withLambdaTasks } from '../../src/runtime/with-lambda-tasks';
import { createTestOrm, engine, executedMigrationNames, schemaGeneratorOf, type TestDatabase } from '../support/database';
import { START_TIMEOUT_MS } from '../support/worker-environment';

class Note {
  id!: number;
  text!: string;
}
const NoteSchema = new EntitySchema<Note>({
  class: Note,
  tableName: 'note',
  properties: { id: { type: 'integer', primary: true, autoincrement: true }, text: { type: 'string' } },
});

class AppMigration extends Migration {
  override async up(): Promise<void> {
    this.addSql('create table "note" ("id" serial primary key, "text" varchar(255) not null)');
  }
}

class AppSubscriber implements EventSubscriber {}

const row = (overrides: Record<string, unknown> = {}) => ({
  id: globalThis.crypto.randomUUID(),
  task_name: 't',
  kwargs: '{}',
  queue: 'default',
  status: 'QUEUED',
  hard_timeout: 300,
  ...overrides,
});

async function insertRaw(db: TestDatabase, values: Record<string, unknown>): Promise<void> {
  const id = values.id as string;
  await db.sql(
    'insert into "task_record" ("id","task_name","kwargs","queue","status","root_id","hard_timeout","idempotency_key") values (?,?,?::jsonb,?,?,?,?,?)',
    [id, values.task_name, values.kwargs, values.queue, values.status, id, values.hard_timeout, values.idempotency_key ?? null],
  );
}

describe(`TaskRecord and its migration (${engine})`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestOrm({ entities: [NoteSchema], subscribers: [new AppSubscriber()], migrationsList: [{ name: 'Migration20270101000000App', class: AppMigration }] });
  }, START_TIMEOUT_MS);
  afterAll(async () => db?.close());

  it('creates the table with every column of the design', async () => {
    const columns = await db.sql<{ column_name: string; data_type: string; is_nullable: string }>(
      "select column_name, data_type, is_nullable from information_schema.columns where table_name = 'task_record' order by ordinal_position",
    );
    expect(columns.map((c) => c.column_name)).toEqual([
      'id', 'task_name', 'kwargs', 'queue', 'status', 'attempt', 'root_id', 'idempotency_key', 'hard_timeout',
      'enqueued_at', 'run_after', 'dispatched_at', 'start_time', 'end_time', 'result', 'traceback', 'note', 'message_id',
    ]);
    const types = Object.fromEntries(columns.map((c) => [c.column_name, c.data_type]));
    expect(types).toMatchObject({ id: 'uuid', kwargs: 'jsonb', result: 'jsonb', enqueued_at: 'timestamp with time zone', idempotency_key: 'character varying' });
    expect(columns.find((c) => c.column_name === 'idempotency_key')!.is_nullable).toBe('YES');
  });

  it('creates the indexes, including the partial index for undispatched QUEUED rows', async () => {
    const indexes = await db.sql<{ indexname: string; indexdef: string }>("select indexname, indexdef from pg_indexes where tablename = 'task_record'");
    const names = indexes.map((i) => i.indexname).sort();
    expect(names).toEqual([
      'task_record_idempotency_key_unique', 'task_record_pkey', 'task_record_root_attempt_unique', 'task_record_root_id_index', 'task_record_start_time_index',
      'task_record_status_index', 'task_record_task_name_index', 'task_record_undispatched_index',
    ]);
    const partial = indexes.find((i) => i.indexname === 'task_record_undispatched_index')!.indexdef;
    expect(partial).toMatch(/WHERE .*status.*'QUEUED'.*dispatched_at IS NULL/);
    expect(indexes.find((i) => i.indexname === 'task_record_start_time_index')!.indexdef).toMatch(/start_time DESC/);
  });

  it('rejects an unknown status with the CHECK constraint', async () => {
    await expect(insertRaw(db, row({ status: 'DONE' }))).rejects.toThrow(/task_record_status_check/);
  });

  it('accepts every TaskStatus', async () => {
    for (const status of Object.values(TaskStatus)) await insertRaw(db, row({ status }));
    const [{ n }] = await db.sql<{ n: string }>("select count(*) as n from task_record where task_name = 't'");
    expect(Number(n)).toBe(Object.values(TaskStatus).length);
  });

  it('keeps idempotency keys unique while allowing many rows without one', async () => {
    await insertRaw(db, row({ idempotency_key: 'k-1' }));
    await expect(insertRaw(db, row({ idempotency_key: 'k-1' }))).rejects.toThrow(/task_record_idempotency_key_unique/);
    await insertRaw(db, row());
    await insertRaw(db, row());
  });

  it('runs under the app migrator next to an app migration', async () => {
    expect(await executedMigrationNames(db.orm)).toEqual([...lambdaTasksMigrations.map((m) => m.name), 'Migration20270101000000App']);
    const em = db.orm.em.fork();
    em.persist(Object.assign(new Note(), { text: 'hello' }));
    await em.flush();
    expect(await em.fork().count(NoteSchema)).toBe(1);
  });

  it('maps TaskRecord through the entity schema (jsonb round-trip, timestamps)', async () => {
    const id = globalThis.crypto.randomUUID();
    await insertRaw(db, row({ id, task_name: 'mapped', kwargs: JSON.stringify({ a: [1, { b: 'c' }] }) }));
    const record = await db.orm.em.fork().findOneOrFail(TaskRecord, { id });
    expect(record).toBeInstanceOf(TaskRecord);
    expect(record.kwargs).toEqual({ a: [1, { b: 'c' }] });
    expect(record.status).toBe(TaskStatus.QUEUED);
    expect(record.attempt).toBe(1);
    expect(record.rootId).toBe(id);
    expect(record.enqueuedAt).toBeInstanceOf(Date);
    expect(record.dispatchedAt).toBeNull();
  });

  it("does not let the app's schema generator emit or drop task_record", async () => {
    const generator = schemaGeneratorOf(db.orm);
    const createSql = await generator.getCreateSchemaSQL({ wrap: false });
    expect(createSql).toContain('"note"');
    expect(createSql).not.toContain('task_record');
    const updateSql = await generator.getUpdateSchemaSQL({ wrap: false });
    expect(updateSql).not.toContain('task_record');
    const dropSql = await generator.getDropSchemaSQL({ wrap: false });
    expect(dropSql).not.toContain('task_record');
  });
});

describe('withLambdaTasks()', () => {
  it('adds the entity, the dispatch subscriber and the skipped table, keeping the app’s own', () => {
    const appSubscriber = new AppSubscriber();
    const config = withLambdaTasks({ entities: [NoteSchema], subscribers: [appSubscriber], schemaGenerator: { skipTables: ['legacy'] } });
    expect(config.entities).toEqual([NoteSchema, TaskRecordSchema]);
    expect(config.subscribers![0]).toBe(appSubscriber);
    expect(config.subscribers![1]).toBeInstanceOf(TaskDispatchSubscriber);
    expect(config.schemaGenerator!.skipTables).toEqual(['legacy', 'task_record']);
  });

  it('is idempotent', () => {
    const once = withLambdaTasks({ entities: [NoteSchema] });
    const twice = withLambdaTasks(once);
    expect(twice.entities).toHaveLength(2);
    expect(twice.subscribers).toHaveLength(1);
    expect(twice.schemaGenerator!.skipTables).toEqual(['task_record']);
    expect(twice.subscribers![0]).toBe(once.subscribers![0]);
  });

  it('does not modify the options it is given', () => {
    const options = { entities: [NoteSchema], subscribers: [] };
    withLambdaTasks(options);
    expect(options.entities).toEqual([NoteSchema]);
    expect(options.subscribers).toEqual([]);
  });
});
