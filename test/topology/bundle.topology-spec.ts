import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { WorkerPool } from '@app/common';
import { SqliteStore } from '@app/persistence/sqlite/sqlite-store';
import {
  checkPackets,
  PacketCheckReply,
  unpackChecks,
} from '@app/offline-sync/domain/packet-check';
import type { PacketCheckTask } from '@app/offline-sync/packet-check.worker';
import { mixedPacketBatch } from '@app/offline-sync/testing/mixed-packet-batch';
import { http } from '../support/test-app';
import { enrollPhone, signPacket, syncBatch } from '../support/worker-client';
import { dockerfileCommand, initEnv, read, ROOT } from './support/compose';
import { freePort, Service, waitForHttp, waitUntil } from './support/processes';

/**
 * What `npm run build` ships for the API (issue 17, bootfast2): tsc's output bundled by
 * scripts/bundle-api.ts into main.js and the packet-check worker's own entry, next to each
 * other, with source maps back to the TypeScript. The other specs of this tier run that
 * bundle as production does (the Dockerfile's CMD, `npm start`); this one checks what only
 * the bundle can get wrong: the layout, the worker thread's script, the maps, and that the
 * modules of what is not selected still stay unloaded.
 */
const BUNDLE_DIR = join(ROOT, 'dist/apps/api/apps/api/src');
const MAIN = join(BUNDLE_DIR, 'main.js');
const API = join(BUNDLE_DIR, 'api.js');
const WORKER = join(BUNDLE_DIR, 'packet-check.worker.js');
const APPEND_WORKER = join(BUNDLE_DIR, 'sqlite-append.worker.js');
const CHECKPOINT_WORKER = join(BUNDLE_DIR, 'sqlite-checkpoint.worker.js');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('the API bundle (npm run build)', () => {
  it('should be the API and the worker scripts with their maps, and main.js at the path every start command runs', () => {
    expect(
      filesUnder(join(ROOT, 'dist/apps/api'))
        .map((file) => relative(ROOT, file))
        .sort(),
    ).toEqual([
      'dist/apps/api/apps/api/src/admin.js',
      'dist/apps/api/apps/api/src/admin.js.map',
      'dist/apps/api/apps/api/src/api.js',
      'dist/apps/api/apps/api/src/api.js.map',
      'dist/apps/api/apps/api/src/main.js',
      'dist/apps/api/apps/api/src/packet-check.worker.js',
      'dist/apps/api/apps/api/src/packet-check.worker.js.map',
      'dist/apps/api/apps/api/src/resolutions.json',
      'dist/apps/api/apps/api/src/sqlite-append.worker.js',
      'dist/apps/api/apps/api/src/sqlite-append.worker.js.map',
      'dist/apps/api/apps/api/src/sqlite-checkpoint.worker.js',
      'dist/apps/api/apps/api/src/sqlite-checkpoint.worker.js.map',
    ]);
    expect(dockerfileCommand()).toEqual(['node', 'dist/apps/api/apps/api/src/main.js']);
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> })
      .scripts;
    // exec: the shell npm runs the script in gives way to node, so npm's SIGTERM reaches it
    expect(scripts['start:prod']).toBe('exec node dist/apps/api/apps/api/src/main.js');
    // npm start builds first unless dist/ is current (scripts/support/build-stamp.js)
    expect(scripts.start).toBe(
      '(node scripts/support/build-stamp.js check || npm run build) && exec node dist/apps/api/apps/api/src/main.js',
    );
  });

  it('should map every line back to a TypeScript file of the checkout', () => {
    const leastSources = new Map([
      [API, 200],
      [WORKER, 3],
      [APPEND_WORKER, 3],
      [CHECKPOINT_WORKER, 2],
    ]);
    for (const [file, least] of leastSources) {
      expect(readFileSync(file, 'utf8')).toMatch(/\/\/# sourceMappingURL=[\w.-]+\.js\.map\n?$/);
      const map = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] };
      expect(map.sources.length).toBeGreaterThan(least);
      for (const source of map.sources) {
        const path = resolve(dirname(file), source);
        expect(relative(ROOT, path)).toMatch(/^(apps\/api|libs)\/.*\.ts$/);
        expect(existsSync(path)).toBe(true);
      }
    }
  });

  it('should give stack traces at the TypeScript lines under --enable-source-maps', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mdai-bundle-stack-'));
    try {
      writeFileSync(join(dir, 'a-file'), '');
      // DATA_DIR under a plain file: the boot fails in local-secrets.ts and prints the stack
      const boot = spawnSync(process.execPath, ['--enable-source-maps', MAIN], {
        cwd: ROOT,
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH,
          NODE_ENV: 'development',
          DATA_DIR: join(dir, 'a-file', 'data'),
          DATABASE_URL: '',
          REDIS_URL: '',
          LOG_LEVEL: 'silent',
        },
      });
      expect(boot.status).toBe(1);
      expect(boot.stderr).toContain('boot failed: Error: ENOTDIR');
      expect(boot.stderr).toMatch(
        new RegExp(
          `at withLocalSecrets \\(${ROOT}/libs/common/src/config/local-secrets\\.ts:\\d+:\\d+\\)`,
        ),
      );
      expect(boot.stderr).toMatch(
        new RegExp(`at main \\(${ROOT}/apps/api/src/main\\.ts:\\d+:\\d+\\)`),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("should run the packet checks on the bundled worker thread exactly as in the request's thread", async () => {
    const secret = Buffer.from('0123456789abcdef0123456789abcdef');
    const packets = mixedPacketBatch(150, secret);
    const pool = new WorkerPool<PacketCheckTask, PacketCheckReply>({
      name: 'bundle-check',
      file: WORKER,
      size: 1,
      maxQueue: 4,
    });
    try {
      const answer = unpackChecks(await pool.run({ packets, secret: new Uint8Array(secret) }));
      expect(answer).toEqual(checkPackets(packets, secret));
      // and from the packets' text, as a request body's batch goes
      const text = JSON.stringify(packets).slice(1, -1);
      expect(unpackChecks(await pool.run({ text, secret: new Uint8Array(secret) }))).toEqual(
        answer,
      );
      expect(answer.some((c) => c.ok && c.signatureValid)).toBe(true);
      expect(answer.some((c) => !c.ok)).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('should checkpoint the WAL on the bundled checkpoint thread', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mdai-bundle-checkpoint-'));
    const store = new SqliteStore(join(dir, 'store.sqlite'), {
      checkpoints: 'worker',
      checkpointer: { file: CHECKPOINT_WORKER, startBytes: 0, startFrames: 0, intervalMs: 10 },
    });
    try {
      store.db.exec('CREATE TABLE rows (body TEXT NOT NULL)');
      const insert = store.db.prepare('INSERT INTO rows (body) VALUES (?)');
      await waitUntil(undefined, 'a checkpoint on the bundled thread', async () => {
        // a write turn: the first starts the thread
        await store.writeTurns.write(() => insert.run('x'.repeat(4000)));
        return (store.checkpointer!.status().frames?.checkpointed ?? 0) > 0;
      });
      expect(store.checkpointer!.status().up).toBe(true);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("should boot a fresh container's first time from the build's package resolutions, recording none of its own", async () => {
    // as the image boots it (no flags, no NODE_OPTIONS: the record is filed under both), with
    // an empty temp directory: a boot without the build's record (or with one of another
    // tree) records its own there one second in (scripts/support/resolve-cache.js)
    const dir = mkdtempSync(join(tmpdir(), 'mdai-bundle-cold-'));
    const temp = join(dir, 'tmp');
    mkdirSync(temp);
    const port = await freePort();
    const [command, ...args] = dockerfileCommand();
    const cold = Service.start('api bundle, cold', command, args, {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        ...initEnv(dir),
        NODE_ENV: 'production',
        PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        DATA_DIR: join(dir, 'data'),
        DATABASE_URL: '',
        REDIS_URL: '',
        TMPDIR: temp,
      },
    });
    try {
      await waitForHttp(cold, `http://127.0.0.1:${port}/health`);
      await new Promise((done) => setTimeout(done, 1500));
      expect(cold.exitCode).toBeUndefined();
      expect(readdirSync(temp).filter((name) => name.startsWith('mdai-resolve-'))).toEqual([]);
    } finally {
      await cold.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  describe('booted as the image boots it, on SQLite', () => {
    let dir: string;
    let service: Service;
    let baseUrl: string;
    let keys: { admin: string; auditor: string };
    /** The server's environment: the admin commands run with it, as `docker compose exec`. */
    let env: Record<string, string>;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'mdai-bundle-'));
      const secrets = initEnv(dir);
      const port = await freePort();
      baseUrl = `http://127.0.0.1:${port}`;
      keys = { admin: secrets.ADMIN_API_KEYS, auditor: secrets.AUDITOR_API_KEYS };
      const [command, ...args] = dockerfileCommand();
      // the probe prints require.cache's keys after the first /health (a preload)
      const probe = join(ROOT, 'test/topology/support/module-probe.js');
      env = {
        PATH: process.env.PATH!,
        ...secrets,
        NODE_ENV: 'production',
        PORT: String(port),
        PUBLIC_URL: baseUrl,
        DATA_DIR: join(dir, 'data'),
        DATABASE_URL: '',
        REDIS_URL: '',
        SYNC_VERIFY_WORKERS: '2',
      };
      service = Service.start('api bundle', command, ['-r', probe, ...args], { cwd: ROOT, env });
      await waitForHttp(service, `${baseUrl}/health`);
    }, 180_000);

    afterAll(async () => {
      await service?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('should load none of our files but the bundle, and no package of an unselected store or a later first use', async () => {
      await waitUntil(service, 'the module list', async () => service.logs().includes('MODULES '));
      const line = service
        .logs()
        .split('\n')
        .find((l) => l.startsWith('MODULES '))!;
      const modules = JSON.parse(line.slice('MODULES '.length)) as string[];
      const ours = modules.filter((file) => !file.includes('/node_modules/'));
      expect(ours.map((file) => relative(ROOT, file))).toEqual([
        'test/topology/support/module-probe.js',
        'dist/apps/api/apps/api/src/main.js',
        'dist/apps/api/apps/api/src/api.js',
      ]);
      const unwanted =
        /\/node_modules\/(mongoose|@nestjs\/mongoose|mongodb|ioredis|@nest-lab\/throttler-storage-redis|axios|@nestjs\/swagger|@nestjs\/jwt|jsonwebtoken|qrcode|@opentelemetry\/api|lodash\/lodash\.js|class-validator\/cjs\/index\.js|class-transformer\/cjs\/index\.js|@nestjs\/config\/dist\/index\.js)\//;
      expect(modules.filter((file) => unwanted.test(file))).toEqual([]);
    });

    it('should serve the OpenAPI document the code declares (swagger loaded on first use, from the bundle)', async () => {
      const served = await http(baseUrl, 'GET', '/docs-json');
      expect(served.status).toBe(200);
      expect(served.body).toEqual(JSON.parse(read('docs/openapi.json')));
    });

    it('should check and append a synced batch on its worker threads (no thread failed to start)', async () => {
      const phone = await enrollPhone(baseUrl, keys.admin);
      const packets = Array.from({ length: 130 }, (_, k) =>
        signPacket(phone, { type: k % 2 === 0 ? 'check_in' : 'check_out' }),
      );
      const synced = await syncBatch(baseUrl, phone.token, packets);
      expect([synced.status, synced.body.accepted]).toEqual([200, 130]);
      // the append ran on the append thread (on by default with more than one core)
      const metrics = String((await http(baseUrl, 'GET', '/metrics')).body);
      const onThread = availableParallelism() > 1 ? 1 : 0;
      expect(metrics).toContain(`mdai_ledger_appends_total{on="thread"} ${onThread}\n`);
      expect(metrics).toContain(`mdai_ledger_appends_total{on="request"} ${1 - onThread}\n`);
      const verify = await http(baseUrl, 'GET', `/api/v5/ledger/${phone.siteId}/verify`, {
        key: keys.admin,
      });
      expect(verify.body).toMatchObject({ ok: true, length: 130 });
      // a worker script that cannot load is logged by the pool (and the checks fall back)
      expect(service.logs()).not.toMatch(/A worker thread (failed|exited)/);
    });

    it("should run the operator's commands from the built admin.js, with what the image holds (no scripts, no sources)", async () => {
      // the runtime stage's /app: dist and package.json (node_modules linked: the packages)
      const app = join(dir, 'app');
      mkdirSync(app);
      spawnSync('cp', ['-a', join(ROOT, 'dist'), join(ROOT, 'package.json'), app]);
      spawnSync('ln', ['-s', join(ROOT, 'node_modules'), join(app, 'node_modules')]);
      const admin = (...args: string[]) => {
        const ran = spawnSync(process.execPath, ['dist/apps/api/apps/api/src/admin.js', ...args], {
          cwd: app,
          env,
          encoding: 'utf8',
          timeout: 60_000,
        });
        return { status: ran.status, stdout: ran.stdout, stderr: ran.stderr };
      };
      const phone = await enrollPhone(baseUrl, keys.admin);
      const synced = await syncBatch(baseUrl, phone.token, [signPacket(phone), signPacket(phone)]);
      expect(synced.status).toBe(200);

      const rebuilt = admin('timesheets:rebuild');
      expect([rebuilt.status, rebuilt.stderr]).toEqual([0, '']);
      expect(rebuilt.stdout).toMatch(/^timesheets rebuilt: \d+ sites, \d+ ledger entries/);

      const resealed = admin('keys:reseal');
      expect([resealed.status, resealed.stderr]).toEqual([0, '']);
      expect(resealed.stdout).toContain('reseal-all: active key v1');

      const out = join(dir, 'rotated.env');
      const rotated = admin('keys:rotate', 'log', '--out', out, '--no-history');
      expect([rotated.status, rotated.stderr]).toEqual([0, '']);
      // single-quoted, as compose, node --env-file and a shell read it alike
      expect(readFileSync(out, 'utf8')).toMatch(/^TLOG_SIGNING_KEY='-----BEGIN PRIVATE KEY-----/);
      expect(statSync(out).mode & 0o777).toBe(0o600);

      const exported = await fetch(`${baseUrl}/api/v5/ledger/${phone.siteId}/export`, {
        headers: { 'x-api-key': keys.auditor },
      });
      writeFileSync(join(dir, 'export.ndjson'), await exported.text());
      writeFileSync(join(dir, 'checkpoint.txt'), synced.body.checkpoints[0].note);
      const key = (await http(baseUrl, 'GET', '/api/v5/tlog/keys')).body.keys[0].publicKey;
      const verified = admin(
        'verify:log',
        join(dir, 'export.ndjson'),
        '--checkpoint',
        join(dir, 'checkpoint.txt'),
        '--key',
        key,
      );
      expect([verified.status, verified.stderr]).toEqual([0, '']);
      expect(verified.stdout.trim().split('\n').at(-1)).toBe('OK');

      const backup = admin('backup', '--to', join(dir, 'backup'));
      expect([backup.status, backup.stderr]).toEqual([0, '']);
      expect(backup.stdout).toMatch(/^backup of .* secrets\.json none in DATA_DIR/);
      expect(readdirSync(join(dir, 'backup')).sort()).toEqual([
        'backup-manifest.json',
        'mdai.sqlite',
        'tlog-witness.ndjson',
        'uploads',
      ]);
      // the manifest names the build that took it: the stamp `npm run build` wrote
      const manifest = JSON.parse(
        readFileSync(join(dir, 'backup', 'backup-manifest.json'), 'utf8'),
      );
      expect(manifest.build).toMatchObject({
        stamp: readFileSync(join(app, 'dist', '.build-stamp'), 'utf8').trim(),
        stampOf: 'build',
        version: JSON.parse(read('package.json')).version,
      });
      const checked = admin('backup', '--check', join(dir, 'backup'));
      expect([checked.status, checked.stderr]).toEqual([0, '']);
      expect(checked.stdout).toMatch(/^backup .*: OK/);

      // SQL on the store with the server's own SQLite (the README's repairs, in a container)
      const sql = admin('db:sql', 'PRAGMA integrity_check');
      expect([sql.status, sql.stderr]).toEqual([0, '']);
      expect(JSON.parse(sql.stdout)).toEqual({ integrity_check: 'ok' });

      const unknown = admin('nope');
      expect(unknown.status).toBe(64);
      expect(unknown.stderr).toContain('keys:rotate, keys:reseal');
    });
  });
});
