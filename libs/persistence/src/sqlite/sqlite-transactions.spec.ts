import { storageErrorOf } from '@app/common';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteConnection } from './sqlite-connection';
import { readTransaction, WriteInReadTransaction } from './sqlite-transactions';

describe('readTransaction', () => {
  let dir: string;
  let db: Database.Database;
  let other: Database.Database;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'readtx-'));
    db = openSqliteConnection(join(dir, 'store.db'));
    db.exec('CREATE TABLE t (v INTEGER)');
    other = openSqliteConnection(join(dir, 'store.db'));
  });

  afterEach(() => {
    other.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const count = (on: Database.Database) =>
    (on.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;

  it('reads one snapshot, and takes no write lock (another connection writes meanwhile)', () => {
    const seen = readTransaction(db, () => {
      const before = count(db);
      other.prepare('INSERT INTO t VALUES (1)').run();
      return [before, count(db)];
    });
    expect(seen).toEqual([0, 0]);
    expect(count(db)).toBe(1);
  });

  it('refuses a write at once, uncontended, with an error that is not a storage failure', () => {
    let thrown: unknown;
    try {
      readTransaction(db, () => {
        count(db);
        db.prepare('INSERT INTO t VALUES (1)').run();
      });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(WriteInReadTransaction);
    // a 500 (a programming error), not a 503 storage_unavailable that would hide it
    expect(storageErrorOf(thrown)).toBeUndefined();
    expect(count(db)).toBe(0);
    // the connection writes again after it
    db.prepare('INSERT INTO t VALUES (2)').run();
    expect(count(db)).toBe(1);
  });

  it('refuses a write transaction nested in it', () => {
    expect(() =>
      readTransaction(db, () =>
        db.transaction(() => db.exec('INSERT INTO t VALUES (1)')).immediate(),
      ),
    ).toThrow(WriteInReadTransaction);
  });

  it('nested in a read transaction, keeps the guard on to the end of the outer one', () => {
    expect(() =>
      readTransaction(db, () => {
        readTransaction(db, () => count(db));
        db.prepare('INSERT INTO t VALUES (1)').run();
      }),
    ).toThrow(WriteInReadTransaction);
    expect(count(db)).toBe(0);
  });

  it('nested in a write transaction: the write goes on after it', () => {
    db.transaction(() => {
      db.prepare('INSERT INTO t VALUES (1)').run();
      expect(readTransaction(db, () => count(db))).toBe(1);
      db.prepare('INSERT INTO t VALUES (2)').run();
    }).immediate();
    expect(count(db)).toBe(2);
  });

  it('gives its error back as it is, and the connection writes after it', () => {
    expect(() =>
      readTransaction(db, () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    db.prepare('INSERT INTO t VALUES (1)').run();
    expect(count(db)).toBe(1);
  });
});
