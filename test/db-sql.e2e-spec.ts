import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKET_AT_MS } from '../libs/offline-sync/src/infrastructure/persistence/sqlite/sqlite-ledger.migrations';

/**
 * Runs `npm run db:sql` as an operator does (the script, with DATA_DIR in its environment), or
 * (`entry: 'admin'`) the image's `admin.js db:sql` from its sources (apps/api/src/admin/admin-main.ts).
 */
function dbSql(
  dataDir: string,
  args: string[],
  entry: 'script' | 'admin' = 'script',
): Promise<{ code: number; stdout: string; stderr: string }> {
  const command =
    entry === 'script'
      ? [join(__dirname, '..', 'scripts', 'db-sql.ts')]
      : [join(__dirname, '..', 'apps', 'api', 'src', 'admin', 'admin-main.ts'), 'db:sql'];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['-r', '@swc-node/register', ...command, ...args],
      { env: { ...process.env, DATA_DIR: dataDir } },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/**
 * `npm run db:sql`: SQL on the store with the server's own SQLite (the `sqlite3` CLI before 3.42
 * breaks the ledger's `unixepoch(…, 'subsec')` indexes), rows as JSON lines, writes only with
 * `--write` and a warning.
 */
describe('npm run db:sql', () => {
  let dataDir: string;
  const file = () => join(dataDir, 'mdai.sqlite');

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-dbsql-'));
    const db = new Database(file());
    db.exec(
      `CREATE TABLE attendance_logs (seq INTEGER PRIMARY KEY, data TEXT NOT NULL);
       CREATE INDEX attendance_logs_device_at ON attendance_logs (${PACKET_AT_MS});`,
    );
    db.prepare('INSERT INTO attendance_logs (data) VALUES (?)').run(
      JSON.stringify({ timestamp: '2026-01-01T00:00:00.123Z' }),
    );
    db.close();
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('should print the rows of DATA_DIR store as JSON lines', async () => {
    const out = await dbSql(dataDir, ['SELECT seq, data FROM attendance_logs']);
    expect(out.code).toBe(0);
    expect(
      out.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line)),
    ).toEqual([{ seq: 1, data: JSON.stringify({ timestamp: '2026-01-01T00:00:00.123Z' }) }]);
    expect(out.stderr).toBe('');
  });

  it('should run from the admin entry the image holds (admin.js db:sql), read-only unless --write', async () => {
    const out = await dbSql(dataDir, ['SELECT seq FROM attendance_logs'], 'admin');
    expect([out.code, out.stderr]).toEqual([0, '']);
    expect(JSON.parse(out.stdout)).toEqual({ seq: 1 });
    const refused = await dbSql(dataDir, ['DELETE FROM attendance_logs'], 'admin');
    expect(refused.code).toBe(64);
    expect(refused.stderr).toContain('--write');
    const usage = await dbSql(dataDir, [], 'admin');
    expect(usage.code).toBe(64);
    expect(usage.stderr).toContain('admin.js db:sql');
  });

  it('should refuse a write without --write, changing nothing', async () => {
    const out = await dbSql(dataDir, ['DELETE FROM attendance_logs']);
    expect(out.code).toBe(64);
    expect(out.stderr).toContain('--write');
    // several statements run as one script: a write unless told otherwise
    const script = await dbSql(dataDir, ['SELECT 1; DELETE FROM attendance_logs']);
    expect(script.code).toBe(64);
    const count = await dbSql(dataDir, ['SELECT count(*) AS n FROM attendance_logs']);
    expect(JSON.parse(count.stdout)).toEqual({ n: 1 });
  });

  it('should run a write with --write, warning that it bypasses the server', async () => {
    const out = await dbSql(dataDir, ['--write', 'REINDEX attendance_logs']);
    expect(out.code).toBe(0);
    expect(out.stderr).toContain('writes bypass the server');
    const check = await dbSql(dataDir, ['PRAGMA integrity_check']);
    expect(JSON.parse(check.stdout)).toEqual({ integrity_check: 'ok' });
  });

  it('should say there is no store, and fail an SQL error without a stack', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'mdai-dbsql-empty-'));
    try {
      const none = await dbSql(empty, ['SELECT 1']);
      expect(none.code).toBe(66);
      expect(none.stderr).toContain('no store at');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    const bad = await dbSql(dataDir, ['SELECT * FROM no_such_table']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('no such table');
  });
});
