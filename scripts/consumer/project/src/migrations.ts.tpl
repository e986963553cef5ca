// The app's own migration, listed after the library's (README, Quick start 1).
import { Migration } from '@mikro-orm/migrations';

export class Migration20261130000000AppUser extends Migration {
  override async up(): Promise<void> {
    this.addSql('create table "app_user" ("id" serial primary key, "email" varchar(255) not null);');
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists "app_user";');
  }
}

export const appMigrations = [{ name: 'Migration20261130000000AppUser', class: Migration20261130000000AppUser }];
