import Database from 'better-sqlite3';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { snapshotWitnessThenDatabase } from './backup';

/** A witness line of the vault audit at `size`. */
const line = (size: number) =>
  `${JSON.stringify({ origin: 'o/vault-audit', size, rootHash: `${size}`, signedAt: '', note: '' })}\n`;

describe('the backup snapshot (steps 2 and 3)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-backup-snapshot-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('should read the witness file again on every attempt: a seal completed between two attempts is in the copy kept', async () => {
    // a real store in the state a seal in flight leaves: the vault audit has 2 entries, its
    // checkpoints (rows and witness lines) reach 1
    const database = join(dir, 'mdai.sqlite');
    const witnessFile = join(dir, 'tlog-witness.ndjson');
    const db = new Database(database);
    db.pragma('journal_mode = WAL');
    db.exec(`
      CREATE TABLE tlog_logs (id INTEGER PRIMARY KEY, origin TEXT NOT NULL UNIQUE);
      CREATE TABLE tlog_checkpoints (log_id INTEGER NOT NULL, size INTEGER NOT NULL);
      CREATE TABLE vault_audit (seq INTEGER PRIMARY KEY);
      INSERT INTO tlog_logs VALUES (1, 'o/vault-audit');
      INSERT INTO tlog_checkpoints VALUES (1, 1);
      INSERT INTO vault_audit VALUES (1), (2);
    `);
    writeFileSync(witnessFile, line(1));
    try {
      const pauses: number[] = [];
      const taken = await snapshotWitnessThenDatabase(
        {
          database,
          witnessFile,
          witnessTarget: join(dir, 'witness.copy'),
          databaseTarget: join(dir, 'db.copy'),
        },
        // between the first attempt and the second, the seal completes as the server does it:
        // its witness line, then its row
        async (_ms, attempt) => {
          pauses.push(attempt);
          appendFileSync(witnessFile, line(2));
          db.prepare('INSERT INTO tlog_checkpoints VALUES (1, 2)').run();
        },
      );
      expect(pauses).toEqual([1]);
      expect(taken.attempts).toBe(2);
      expect(taken.unsealed).toEqual([]);
      // the witness copy is the one read before the second snapshot: both lines
      expect(readFileSync(join(dir, 'witness.copy'), 'utf8')).toBe(line(1) + line(2));
      expect(taken.witness.bytes).toBe(Buffer.byteLength(line(1) + line(2)));
      const copy = new Database(join(dir, 'db.copy'), { readonly: true });
      try {
        expect(copy.prepare('SELECT MAX(size) AS n FROM tlog_checkpoints').get()).toEqual({ n: 2 });
      } finally {
        copy.close();
      }
    } finally {
      db.close();
    }
  });
});
