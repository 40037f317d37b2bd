/**
 * What the sync benchmarks share: a real API on a temp data dir, a crew of enrolled phones at
 * one site, and batches of packets signed as a phone signs them (HMAC-SHA256 over JCS).
 */
import { INestApplication } from '@nestjs/common';
import { createHmac, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '@app/api/bootstrap';
import { LOCAL_SECRETS } from '@app/api/config/app-config';
import { jcs, SECRETS_FILE, withLocalSecrets } from '@app/common';
import { BenchChild } from './child';

export async function postJson(
  base: string,
  path: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<Record<string, any>> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return (await res.json()) as Record<string, any>;
}

/** An API with one site to sync to, in this process or in a child. */
export interface SyncBenchServer {
  base: string;
  dataDir: string;
  siteId: string;
  admin: Record<string, string>;
  close(): Promise<void>;
}

export interface SyncBenchApi extends SyncBenchServer {
  app: INestApplication;
}

export interface SyncBenchChild extends SyncBenchServer {
  child: BenchChild;
}

/** The API's settings in the sync benchmarks (in this process or in a child). */
function syncBenchEnv(dataDir: string): Record<string, string> {
  return {
    DATA_DIR: dataDir,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    // the fraud-heavy run floods one phone's history; keep it syncing to measure the cost
    TRUST_AUTO_BLOCK_FLOOR: '0',
    // the limiter still counts every request; a long run (enrolment + batches) must not be refused
    RATE_LIMIT_PER_IP: '100000000',
    RATE_LIMIT_PER_CREDENTIAL: '100000000',
    // e.g. SYNC_VERIFY_WORKERS=0: the packet checks in the request's thread, for a comparison
    ...(process.env.SYNC_VERIFY_WORKERS !== undefined
      ? { SYNC_VERIFY_WORKERS: process.env.SYNC_VERIFY_WORKERS }
      : {}),
  };
}

async function createSite(base: string, name: string, admin: Record<string, string>) {
  const site = await postJson(
    base,
    '/api/v5/sites',
    { name, geo: { lat: 1, lng: 1 }, radiusM: 100 },
    admin,
  );
  return site.siteId as string;
}

/**
 * The secrets of a store filled before the server first opens it, generated as the API does
 * for a new store: a store file without its secrets.json is refused at boot (a backup restored
 * without its keys).
 */
export function storeSecrets(dataDir: string): void {
  if (!existsSync(join(dataDir, SECRETS_FILE))) {
    withLocalSecrets({}, dataDir, false, { ...LOCAL_SECRETS, guardedBy: undefined });
  }
}

/** The API on a fresh data dir, listening on a free port, with one site to sync to. */
export async function startSyncBenchApi(
  name: string,
  prepare?: (dataDir: string) => void,
): Promise<SyncBenchApi> {
  const dataDir = mkdtempSync(join(tmpdir(), `mdai-bench-${name}-`));
  storeSecrets(dataDir);
  // e.g. a ledger filled straight into the store before the server opens it
  prepare?.(dataDir);
  const { app, config } = await createApp(syncBenchEnv(dataDir));
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  const admin = { 'x-api-key': config.auth.apiKeys.admin[0] };
  return {
    app,
    base,
    dataDir,
    siteId: await createSite(base, name, admin),
    admin,
    close: async () => {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The child API's mode: production by default (`SYNC_NODE_ENV`, e.g. `test` for the mode the
 * benches ran in before), its secrets from the environment as production takes them (the values
 * `storeSecrets` wrote to the data dir, so the fill's tags and the API's keys agree). What the
 * mode changes on the sync's path: outside production `readTransaction` guards its reads with
 * `PRAGMA query_only`, which expires every prepared statement of the store's connection at each
 * read transaction (each compiles again at its next run: the timesheet read model's 100-row
 * INSERTs, the seal's, the fraud screen's); production does not (docs/benchmarks.md, txlock and
 * perfsync). The goals are production's.
 */
function childModeEnv(dataDir: string): Record<string, string> {
  const mode = process.env.SYNC_NODE_ENV ?? 'production';
  if (mode !== 'production') return { NODE_ENV: mode };
  const secrets = JSON.parse(readFileSync(join(dataDir, SECRETS_FILE), 'utf8')) as Record<
    string,
    string
  >;
  return { ...secrets, NODE_ENV: 'production', PUBLIC_URL: 'https://bench.invalid' };
}

/**
 * The API in a child process (`bench/support/serve-api.ts` of `root`, default this checkout)
 * on `dataDir` (prepared by the caller; removed on close): its CPU is the child's alone, the
 * bench's client (building requests, reading answers) stays in this process.
 */
export async function startSyncBenchChild(
  name: string,
  dataDir: string,
  root?: string,
  extraEnv: Record<string, string> = {},
): Promise<SyncBenchChild> {
  storeSecrets(dataDir);
  const adminKey = `bench-admin-${randomUUID()}`;
  // nothing from this process's environment decides the store: SQLite in dataDir, no Redis
  const env = {
    ...syncBenchEnv(dataDir),
    ...childModeEnv(dataDir),
    ...extraEnv,
    ADMIN_API_KEYS: adminKey,
    DATABASE_URL: '',
    REDIS_URL: '',
  };
  const child = root
    ? BenchChild.startIn(root, 'support/serve-api.ts', [], env)
    : BenchChild.start('support/serve-api.ts', [], env);
  try {
    const base = `http://127.0.0.1:${await child.expect('READY')}`;
    const admin = { 'x-api-key': adminKey };
    return {
      child,
      base,
      dataDir,
      siteId: await createSite(base, name, admin),
      admin,
      close: async () => {
        await child.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

export interface Phone {
  workerId: string;
  deviceId: string;
  secret: Buffer;
  token: string;
}

/** `count` workers at the API's site, each with an enrolled phone. */
export async function enrollCrew(api: SyncBenchServer, count: number): Promise<Phone[]> {
  const phones: Phone[] = [];
  for (let w = 0; w < count; w++) {
    const worker = await postJson(
      api.base,
      '/api/v5/workers',
      { name: `w${w}`, phone: `+91 90000 ${String(w).padStart(5, '0')}`, siteIds: [api.siteId] },
      api.admin,
    );
    const reg = await postJson(
      api.base,
      '/api/v5/device/register',
      {
        enrollmentCode: worker.enrollmentCode,
        fingerprint: { os: 'Android', model: 'bench', simHash: `sim-${w}-0123456789` },
      },
      {},
    );
    phones.push({
      workerId: worker.workerId as string,
      deviceId: reg.deviceId as string,
      secret: Buffer.from(reg.deviceSecret as string, 'base64'),
      token: reg.offlineToken as string,
    });
  }
  return phones;
}

/**
 * One phone's batch at the site: alternating check-in/check-out packed into the seconds after
 * registration (a token's window starts there, inside the allowed clock skew), or with
 * `fraudHeavy` every packet a rapid-repeat check-in, all flagged.
 */
export function signedBatch(
  phone: Phone,
  siteId: string,
  size: number,
  fraudHeavy = false,
): { packets: { payload: Record<string, unknown>; signature: string }[]; token: string } {
  const packets = Array.from({ length: size }, (_, i) => {
    const payload = {
      packetId: randomUUID(),
      workerId: phone.workerId,
      siteId,
      deviceId: phone.deviceId,
      type: fraudHeavy || i % 2 === 0 ? 'check_in' : 'check_out',
      timestamp: new Date(fraudHeavy ? Date.now() : Date.now() + i * 400).toISOString(),
      geo: { lat: 1.00001, lng: 1.00002, accuracyM: 5 },
    };
    return {
      payload,
      signature: createHmac('sha256', phone.secret).update(jcs(payload)).digest('hex'),
    };
  });
  return { packets, token: phone.token };
}
