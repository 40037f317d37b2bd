import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mongoose';
import { mongoDatabaseUrl, MONGODB_URI } from './support/test-app';

/**
 * An operator job (`npm run timesheets:rebuild`, `npm run keys:reseal`) run with a DATA_DIR
 * that holds no store (a typo, another working directory): it must not make a fresh empty
 * database (and new secrets) there and report success on it ("0 sites"; a reseal would call
 * every old key version droppable). It stops with one line naming the path.
 */
const describeOnSqlite = MONGODB_URI ? describe.skip : describe;

describeOnSqlite('operator jobs on a DATA_DIR without a store (e2e, SQLite)', () => {
  it.each(['scripts/timesheets-rebuild.ts', 'scripts/vault-rotate.ts'])(
    '%s should stop, naming DATA_DIR, and create nothing',
    async (script) => {
      const dataDir = mkdtempSync(join(tmpdir(), 'mdai-job-'));
      try {
        const child = spawn(process.execPath, ['-r', '@swc-node/register', script], {
          cwd: join(__dirname, '..'),
          env: { ...process.env, DATA_DIR: dataDir, DATABASE_URL: '', NODE_ENV: 'development' },
        });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
        expect(code).toBe(1);
        expect(stderr).toContain(`no store at ${join(dataDir, 'mdai.sqlite')}`);
        expect(stderr).toContain('DATA_DIR');
        expect(readdirSync(dataDir)).toEqual([]);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  );
});

(MONGODB_URI ? describe : describe.skip)(
  'operator jobs on a MongoDB database without a store (e2e, MongoDB)',
  () => {
    it.each(['scripts/timesheets-rebuild.ts', 'scripts/vault-rotate.ts'])(
      '%s should stop, naming DATABASE_URL, and create nothing',
      async (script) => {
        const url = mongoDatabaseUrl(mkdtempSync(join(tmpdir(), 'mdai-job-')));
        const child = spawn(process.execPath, ['-r', '@swc-node/register', script], {
          cwd: join(__dirname, '..'),
          env: { ...process.env, DATABASE_URL: url, NODE_ENV: 'development' },
        });
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
        expect(code).toBe(1);
        const database = new URL(url).pathname.slice(1);
        expect(stderr).toContain(`DATABASE_URL: no store in database "${database}"`);
        const connection = await createConnection(url).asPromise();
        try {
          expect(await connection.db!.listCollections().toArray()).toEqual([]);
        } finally {
          await connection.close();
        }
      },
    );
  },
);
