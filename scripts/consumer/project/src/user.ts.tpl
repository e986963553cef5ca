// The app's own entity (an EntitySchema: no decorators, so it reads the same under MikroORM 6 and 7).
import { EntitySchema } from '@mikro-orm/core';

export class User {
  id!: number;
  email!: string;
}

export const UserSchema = new EntitySchema<User>({
  class: User,
  tableName: 'app_user',
  properties: {
    id: { type: 'number', primary: true, autoincrement: true },
    email: { type: 'string' },
  },
});
