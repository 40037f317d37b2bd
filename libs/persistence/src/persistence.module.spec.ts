import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Clock, ManualClock } from '@app/common';
import { bindPort, PersistenceModule } from './persistence.module';
import { PortAdapters, SqliteStoreHandle } from './store';

abstract class StampRepository {
  abstract stamp(): Promise<string>;
}

@Injectable()
class SqliteStampRepository extends StampRepository implements OnModuleInit {
  readonly logger = new Logger(SqliteStampRepository.name);
  initialized = false;

  constructor(
    readonly store: SqliteStoreHandle,
    private readonly clock: Clock,
  ) {
    super();
  }

  onModuleInit(): void {
    this.store.db.exec('CREATE TABLE IF NOT EXISTS stamps (at TEXT)');
    this.initialized = true;
  }

  async stamp(): Promise<string> {
    const at = this.clock.now().toISOString();
    this.store.db.prepare('INSERT INTO stamps (at) VALUES (?)').run(at);
    return at;
  }
}

describe('bindPort', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'mdai-bind-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('should build the SQLite adapter through Nest: injected store handle and Clock, real init hook, Mongo never imported', async () => {
    const clock = new ManualClock('2026-05-01T08:00:00.000Z');
    const importMongo = jest.fn();
    const adapters: PortAdapters<StampRepository> = {
      sqlite: SqliteStampRepository,
      mongo: importMongo,
    };
    const module = await Test.createTestingModule({
      imports: [
        PersistenceModule.forRoot({
          driver: 'sqlite',
          sqlitePath: join(dir, 'a.sqlite'),
          checkpoints: 'connection',
        }),
      ],
      providers: [{ provide: Clock, useValue: clock }, bindPort(StampRepository, adapters)],
    }).compile();
    const app = await module.init();
    const sut = app.get(StampRepository);
    expect(sut).toBeInstanceOf(SqliteStampRepository);
    expect((sut as SqliteStampRepository).initialized).toBe(true);
    expect(await sut.stamp()).toBe('2026-05-01T08:00:00.000Z');
    expect(importMongo).not.toHaveBeenCalled();
    await app.close();
  });
});
