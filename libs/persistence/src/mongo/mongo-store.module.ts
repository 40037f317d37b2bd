import { DynamicModule, Global, Module } from '@nestjs/common';
import { getConnectionToken, MongooseModule } from '@nestjs/mongoose';
import type { Connection } from 'mongoose';
import { MongoStoreHandle, Store } from '../store';
import { MongoStore } from './mongo-store';

/**
 * The MongoDB store: the mongoose connection (opened by @nestjs/mongoose) provided as `Store`
 * and as `MongoStoreHandle` (what the Mongo adapters inject).
 * Imported by PersistenceModule only when DATABASE_URL is mongodb://…, so a SQLite install
 * never loads mongoose.
 */
@Global()
@Module({})
export class MongoStoreModule {
  static forRoot(url: string): DynamicModule {
    return {
      module: MongoStoreModule,
      imports: [
        MongooseModule.forRoot(url, {
          serverSelectionTimeoutMS: 10_000,
          // also the monitor's heartbeat timeout: a frozen server (connections up, no answer)
          // is found within a heartbeat (10 s) and this, and the operations on it fail
          // (503 store_unavailable) instead of waiting the driver's default 30 s
          connectTimeoutMS: 10_000,
          autoIndex: true,
        }),
      ],
      providers: [
        {
          provide: Store,
          inject: [getConnectionToken()],
          useFactory: (c: Connection) => new MongoStore(c),
        },
        { provide: MongoStoreHandle, useExisting: Store },
      ],
      exports: [Store, MongoStoreHandle],
    };
  }
}
