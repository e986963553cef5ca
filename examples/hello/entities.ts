import { EntitySchema } from '@mikro-orm/core';
import { Migration } from '@mikro-orm/migrations';

/** The app's own row, written in the same transaction as the task record. */
export class Visit {
  id!: number;
  name!: string;
  createdAt!: Date;
}

/** What the sayHello task writes. */
export class Greeting {
  id!: number;
  text!: string;
  createdAt!: Date;
}

export const VisitSchema = new EntitySchema<Visit>({
  class: Visit,
  tableName: 'visit',
  properties: {
    id: { type: 'integer', primary: true, autoincrement: true },
    name: { type: 'string' },
    createdAt: { type: 'datetime', columnType: 'timestamptz', fieldName: 'created_at' },
  },
});

export const GreetingSchema = new EntitySchema<Greeting>({
  class: Greeting,
  tableName: 'greeting',
  properties: {
    id: { type: 'integer', primary: true, autoincrement: true },
    text: { type: 'string' },
    createdAt: { type: 'datetime', columnType: 'timestamptz', fieldName: 'created_at' },
  },
});

/** The example app's own migration, applied after the library's. */
export class Migration20270101000000Hello extends Migration {
  override async up(): Promise<void> {
    this.addSql('create table "visit" ("id" serial primary key, "name" varchar(100) not null, "created_at" timestamptz not null)');
    this.addSql('create table "greeting" ("id" serial primary key, "text" text not null, "created_at" timestamptz not null)');
  }
}
