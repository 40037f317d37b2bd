import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { appendImmediate } from './chain-append';

const NORMAL = 1;
const FULL = 2;

/** A file-backed WAL database at the store's level, as `openSqliteConnection` opens it. */
function openStoreLike(dir: string): Database.Database {
  const db = new Database(join(dir, 'store.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE links (seq INTEGER PRIMARY KEY, v TEXT)');
  return db;
}

const level = (db: Database.Database) => db.pragma('synchronous', { simple: true });

describe('appendImmediate', () => {
  let dir: string;
  let db: Database.Database;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'chain-append-'));
    db = openStoreLike(dir);
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should commit an append at synchronous = FULL and put the connection back at NORMAL', () => {
    const seen = appendImmediate(db, () => {
      db.prepare('INSERT INTO links (v) VALUES (?)').run('a');
      return { level: level(db), inTransaction: db.inTransaction };
    });
    // the level of the connection while the transaction ran (SQLite reads it at the commit)
    expect(seen).toEqual({ level: FULL, inTransaction: true });
    expect(level(db)).toBe(NORMAL);
    expect(db.prepare('SELECT COUNT(*) AS n FROM links').get()).toEqual({ n: 1 });
  });

  it('should put the level back when the append throws, having written nothing', () => {
    expect(() =>
      appendImmediate(db, () => {
        db.prepare('INSERT INTO links (v) VALUES (?)').run('a');
        throw new Error('refused');
      }),
    ).toThrow('refused');
    expect(level(db)).toBe(NORMAL);
    expect(db.prepare('SELECT COUNT(*) AS n FROM links').get()).toEqual({ n: 0 });
  });

  it('should leave a connection already at FULL as it is', () => {
    db.pragma('synchronous = FULL');
    appendImmediate(db, () => db.prepare('INSERT INTO links (v) VALUES (?)').run('a'));
    expect(level(db)).toBe(FULL);
  });

  it('should run inside an open transaction, which commits at its own level', () => {
    // SQLite refuses to change the level inside a transaction: the append does not try
    db.transaction(() => {
      appendImmediate(db, () => db.prepare('INSERT INTO links (v) VALUES (?)').run('a'));
    })();
    expect(level(db)).toBe(NORMAL);
    expect(db.prepare('SELECT COUNT(*) AS n FROM links').get()).toEqual({ n: 1 });
  });
});
