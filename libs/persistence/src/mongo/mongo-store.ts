import type { Connection } from 'mongoose';
import { MongoStoreHandle, Store } from '../store';

/** The production store: a mongoose connection (opened by @nestjs/mongoose). */
export class MongoStore extends Store implements MongoStoreHandle {
  readonly driver = 'mongo' as const;

  constructor(
    readonly connection: Connection,
    private readonly ownsConnection = false,
  ) {
    super();
  }

  async ping(): Promise<void> {
    const db = this.connection.db;
    if (!db) throw new Error('MongoDB is not connected');
    await db.admin().ping();
  }

  async close(): Promise<void> {
    if (this.ownsConnection) await this.connection.close();
  }
}
