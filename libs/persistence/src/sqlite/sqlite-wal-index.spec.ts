import Database from 'better-sqlite3';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteConnection } from './sqlite-connection';
import { WalIndexHeader } from './sqlite-wal-index';

describe('WalIndexHeader', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'mdai-wal-index-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("should read the WAL's frames as SQLite counts them, and 0 again once the WAL started over", () => {
    const path = join(dir, 'store.sqlite');
    const db = openSqliteConnection(path);
    db.exec('CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    const insert = db.prepare('INSERT INTO rows (body) VALUES (?)');
    const header = new WalIndexHeader(path);
    // no checkpoint until the end: the WAL file then holds every frame, a header and a frame
    // header each, and its size counts them
    db.pragma('wal_autocheckpoint = 0');
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    const inFile = () => (statSync(`${path}-wal`).size - 32) / (pageSize + 24);
    const other = new Database(path);
    try {
      let seen = 0;
      for (let commit = 0; commit < 20; commit++) {
        db.transaction(() => {
          for (let i = 0; i < 1 + (commit % 4); i++) insert.run('x'.repeat(3000));
        })();
        const frames = header.frames()!;
        expect(frames).toBeGreaterThan(seen);
        expect(frames).toBe(inFile());
        seen = frames;
      }
      // another connection's checkpoint copies every frame (it counts them as `log`), and the
      // next commit starts the WAL over from its beginning
      const [wal] = other.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
      expect(wal.log).toBe(seen);
      insert.run('y');
      expect(header.frames()).toBe(1);
    } finally {
      other.close();
      db.close();
      // last: closing a descriptor of the -shm file releases the process's locks on it
      header.close();
    }
  });

  it('should read unknown, not a number, from a file that is no wal-index', () => {
    const path = join(dir, 'nothing.sqlite');
    const missing = new WalIndexHeader(path);
    expect(missing.frames()).toBeUndefined();
    const header = new WalIndexHeader(path);
    try {
      writeFileSync(`${path}-shm`, Buffer.alloc(64, 7)); // too short
      expect(header.frames()).toBeUndefined();
      writeFileSync(`${path}-shm`, Buffer.alloc(4096, 7)); // not a wal-index
      expect(header.frames()).toBeUndefined();
      // a wal-index header not initialised yet (isInit 0), then one whose copies differ
      const shm = Buffer.alloc(4096);
      shm.writeUInt32LE(3007000, 0);
      shm.writeUInt32LE(3007000, 48);
      shm.writeUInt32LE(12, 16);
      shm.writeUInt32LE(12, 64);
      writeFileSync(`${path}-shm`, shm);
      expect(header.frames()).toBeUndefined();
      shm[12] = 1;
      shm[60] = 1;
      writeFileSync(`${path}-shm`, shm);
      expect(header.frames()).toBe(12);
      shm.writeUInt32LE(13, 16);
      writeFileSync(`${path}-shm`, shm);
      expect(header.frames()).toBeUndefined();
    } finally {
      header.close();
    }
  });
});
