import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScript } from './support/processes';
import { MONGODB_URI, startTestApp, TestApp } from './support/test-app';

const ROOT = join(__dirname, '..');
const masterKey = (byte: number) => `${Buffer.alloc(32, byte).toString('base64')}`;
const V1 = `v1:${masterKey(1)}`;
const V2 = `v2:${masterKey(2)}`;

/** `npm run backup -- <args>` on `dataDir`, as an operator runs it beside the server. */
function backup(dataDir: string, ...args: string[]) {
  const child = spawn(
    process.execPath,
    ['-r', '@swc-node/register', 'scripts/backup.ts', ...args],
    {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: '', NODE_ENV: 'test', DATA_DIR: dataDir },
    },
  );
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stderr })),
  );
}

/**
 * A backup taken while a server runs holds no heartbeat of it: restored (README, "Backup and
 * restore") and started with a new key version, `keys:reseal` is not refused because of the
 * server of the backup's time (gone), which a copied registry row counted as running for three
 * of its heartbeats.
 */
(MONGODB_URI ? describe.skip : describe)(
  'a restored backup and the replica registry (e2e, SQLite)',
  () => {
    let a: TestApp | undefined;
    let b: TestApp | undefined;
    const root = mkdtempSync(join(tmpdir(), 'mdai-backup-replicas-'));
    afterAll(async () => {
      await b?.close({ keepData: true });
      await a?.close({ keepData: true });
      rmSync(root, { recursive: true, force: true });
    });

    it("should leave the running server's registry row out of the copy, so keys:reseal on the restored store is not refused by it", async () => {
      const dataDir = join(root, 'data');
      a = await startTestApp({ DATA_DIR: dataDir, VAULT_KEYS: V1 });
      const rows = (dir: string) => {
        const db = new Database(join(dir, 'mdai.sqlite'), { readonly: true });
        try {
          return (db.prepare('SELECT COUNT(*) AS n FROM replicas').get() as { n: number }).n;
        } finally {
          db.close();
        }
      };
      expect(rows(dataDir)).toBe(1);

      const to = join(root, 'backup');
      const taken = await backup(dataDir, '--to', to);
      expect(taken.stderr).toBe('');
      expect(taken.code).toBe(0);
      expect(rows(to)).toBe(0);
      const manifest = JSON.parse(readFileSync(join(to, 'backup-manifest.json'), 'utf8')) as {
        replicaRowsLeftOut: number;
      };
      expect(manifest.replicaRowsLeftOut).toBe(1);
      expect((await backup(dataDir, '--check', to)).code).toBe(0);

      // restored into a fresh DATA_DIR, started with v2 added; the server of the backup's time
      // (a) still runs, on its own store: gone as far as the restored store is concerned
      const restored = join(root, 'restored');
      cpSync(to, restored, { recursive: true });
      b = await startTestApp({ DATA_DIR: restored, VAULT_KEYS: `${V1},${V2}` });
      const resealed = await runScript('vault-rotate', restored, [], { VAULT_KEYS: `${V1},${V2}` });
      expect(resealed.stderr).not.toContain('do not hold key version');
      expect(resealed.code).toBe(0);
    });
  },
);
