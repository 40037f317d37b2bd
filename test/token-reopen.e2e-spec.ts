import { createHash, createPrivateKey, KeyObject, randomUUID, sign } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mongoose';
import { MongoStore, SQLITE_FILE, SqliteStore, Store } from '@app/persistence';
import { rotateLocalKeys } from '@app/api/config/key-rotation';
import { IssuedTokens } from '@app/device-trust';
import { IssuedTokenRepository } from '@app/device-trust/infrastructure/persistence/issued-token.repository';
import {
  mongoDatabaseUrl,
  MONGODB_URI,
  secretsOf,
  slowOnMongo,
  startTestApp,
  TestApp,
} from './support/test-app';
import { runScript } from './support/processes';
import { enrollPhone, Phone, refreshToken, signPacket, syncBatch } from './support/worker-client';

/** Each command is a process booting the app (seconds each on a loaded machine): not a speed check. */
const JOB_TIMEOUT = slowOnMongo(120_000);

/** `npm run tokens:reopen -- <args>` on the store of `dataDir`: its exit code and output. */
function tokensReopen(dataDir: string, ...args: string[]) {
  return runScript('tokens-reopen', dataDir, args);
}

type Backup = string | Map<string, unknown[]>;

/** A backup of the running app's store: SQLite's online backup of the file, or every collection. */
async function backUp(t: TestApp): Promise<Backup> {
  const store = t.app.get(Store);
  if (store instanceof MongoStore) {
    const db = store.connection.db!;
    const copy = new Map<string, unknown[]>();
    for (const { name } of await db.listCollections({}, { nameOnly: true }).toArray())
      copy.set(name, await db.collection(name).find({}).toArray());
    return copy;
  }
  const file = join(t.dataDir, 'backup.sqlite');
  await (store as SqliteStore).db.backup(file);
  return file;
}

/** Puts the backup in place of the store of `dataDir` (its app closed). */
async function restore(dataDir: string, backup: Backup): Promise<void> {
  if (typeof backup === 'string') {
    for (const f of readdirSync(dataDir).filter((n) => n.startsWith(SQLITE_FILE)))
      rmSync(join(dataDir, f));
    copyFileSync(backup, join(dataDir, SQLITE_FILE));
    return;
  }
  const connection = await createConnection(mongoDatabaseUrl(dataDir)).asPromise();
  try {
    await connection.dropDatabase();
    for (const [name, docs] of backup)
      if (docs.length > 0) await connection.db!.collection(name).insertMany(docs as never[]);
  } finally {
    await connection.close();
  }
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const kidOf = (token: string) =>
  (JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()) as { kid: string }).kid;

/**
 * An offline token for `phone` made by whoever holds `key`, issued at `iat` (seconds), with
 * the phone's claims or others.
 */
function forge(
  key: KeyObject,
  kid: string,
  phone: Phone,
  iat: number,
  claims: { deviceId?: string; workerId?: string; siteIds?: string[] } = {},
): string {
  const header = b64({ alg: 'ES256', typ: 'JWT', kid });
  const deviceId = claims.deviceId ?? phone.deviceId;
  const payload = b64({
    iss: 'mdai',
    sub: deviceId,
    typ: 'mdai.offline+jwt',
    deviceId,
    workerId: claims.workerId ?? phone.workerId,
    siteIds: claims.siteIds ?? [phone.siteId],
    iat,
    nbf: iat,
    exp: iat + 30 * 86_400,
    jti: randomUUID(),
  });
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), {
    key,
    dsaEncoding: 'ieee-p1363',
  });
  return `${header}.${payload}.${signature.toString('base64url')}`;
}

function expectNotIssued(res: { status: number; body: any }): void {
  expect([res.status, res.body.code]).toEqual([403, 'invalid_token']);
  expect(res.body.message).toContain('not_issued');
}

function expectAccepted(res: { status: number; body: any }): void {
  expect([res.status, res.body.accepted]).toEqual([200, 1]);
}

/**
 * A store restored from a backup has no record of the tokens issued since: `npm run
 * tokens:reopen -- --since <backup>` lets those tokens (the active key's, issued between the
 * backup and the command) sync, records each at its first sync, and nothing else.
 */
describe('tokens:reopen after a restore (e2e)', () => {
  let dataDir: string;
  let t: TestApp | undefined;
  const boot = () => startTestApp({ DATA_DIR: dataDir, TRUST_AUTO_BLOCK_FLOOR: '0' });
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-reopen-'));
  });
  afterEach(async () => {
    const store = t?.app.get(Store);
    if (store instanceof MongoStore) await store.connection.dropDatabase();
    await t?.close();
    t = undefined;
    if (MONGODB_URI) await restore(dataDir, new Map()); // drops what a closed app left
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    'should sync, after the command and not before, a token refreshed after the backup, keep it on record through a key rotation, and refuse what the window does not hold',
    async () => {
      t = await boot();
      const a = await enrollPhone(t.baseUrl, t.keys.admin);
      const b = await enrollPhone(t.baseUrl, t.keys.admin);
      const key = createPrivateKey(secretsOf(dataDir).OFFLINE_TOKEN_PRIVATE_KEY);
      const kid = kidOf(a.token);
      const backupAt = new Date();
      const backup = await backUp(t);
      // after the backup: both phones refresh (their new tokens are recorded in the store that
      // will be lost) and record punches offline under them
      const refreshedA = await refreshToken(t.baseUrl, a);
      const refreshedB = await refreshToken(t.baseUrl, b);
      expect([refreshedA.status, refreshedB.status]).toEqual([200, 200]);
      const tokenA = refreshedA.body.offlineToken as string;
      const tokenB = refreshedB.body.offlineToken as string;
      await t.close({ keepData: true });
      t = undefined;

      // the store is restored from the backup
      await restore(dataDir, backup);
      t = await boot();
      expectNotIssued(await syncBatch(t.baseUrl, tokenB, [signPacket(b)]));

      const reopened = await tokensReopen(dataDir, '--since', backupAt.toISOString());
      expect([reopened.code, reopened.stderr]).toEqual([0, '']);
      expect(reopened.stdout).toContain('reopened until');
      expect(reopened.stdout).toContain(kid);
      expectAccepted(await syncBatch(t.baseUrl, tokenB, [signPacket(b)]));
      // the active key's, but issued before the backup (it would be on record): refused
      const before = Math.floor(backupAt.getTime() / 1000) - 120;
      expectNotIssued(await syncBatch(t.baseUrl, forge(key, kid, b, before), [signPacket(b)]));
      // nor one issued after the command (every token issued since is on record)
      const after = Math.floor(Date.now() / 1000) + 2;
      expectNotIssued(await syncBatch(t.baseUrl, forge(key, kid, b, after), [signPacket(b)]));
      await t.close({ keepData: true });
      t = undefined;

      // the token key rotates: the window ends; b's token, recorded at its first sync, still
      // syncs; a's, never synced, signed by the key now retired, is refused
      rotateLocalKeys(dataDir, ['token']);
      t = await boot();
      expectAccepted(await syncBatch(t.baseUrl, tokenB, [signPacket(b, { type: 'check_out' })]));
      expectNotIssued(await syncBatch(t.baseUrl, tokenA, [signPacket(a)]));
    },
    JOB_TIMEOUT,
  );

  it(
    'should end the window with --close (what it recorded stays) and refuse a time without a zone',
    async () => {
      t = await boot();
      const phone = await enrollPhone(t.baseUrl, t.keys.admin);
      const key = createPrivateKey(secretsOf(dataDir).OFFLINE_TOKEN_PRIVATE_KEY);
      const kid = kidOf(phone.token);
      // tokens the store has no record of, as if issued after a backup taken an hour ago
      const iat = Math.floor(Date.now() / 1000) - 60;
      const first = forge(key, kid, phone, iat);
      const second = forge(key, kid, phone, iat);
      expectNotIssued(await syncBatch(t.baseUrl, first, [signPacket(phone)]));

      const noZone = await tokensReopen(dataDir, '--since', '2026-01-01T00:00:00');
      expect(noZone.code).toBe(64);
      expect(noZone.stderr).toContain('not an ISO-8601 time with a zone');
      const future = await tokensReopen(dataDir, '--since', '2999-01-01T00:00:00Z');
      expect(future.code).toBe(64);
      expectNotIssued(await syncBatch(t.baseUrl, first, [signPacket(phone)]));

      const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
      expect((await tokensReopen(dataDir, '--since', hourAgo)).code).toBe(0);
      expectAccepted(await syncBatch(t.baseUrl, first, [signPacket(phone)]));
      const closed = await tokensReopen(dataDir, '--close');
      expect([closed.code, closed.stdout]).toEqual([0, expect.stringContaining('closed at')]);
      expectNotIssued(await syncBatch(t.baseUrl, second, [signPacket(phone)]));
      expectAccepted(await syncBatch(t.baseUrl, first, [signPacket(phone, { type: 'check_out' })]));
      expect((await tokensReopen(dataDir, '--close')).stdout).toContain('no reopened window');
    },
    JOB_TIMEOUT,
  );

  it(
    'should not adopt, inside the window, a token of the active key for a device it does not know, or with another worker or sites the person did not have',
    async () => {
      t = await boot();
      const a = await enrollPhone(t.baseUrl, t.keys.admin);
      const b = await enrollPhone(t.baseUrl, t.keys.admin);
      const key = createPrivateKey(secretsOf(dataDir).OFFLINE_TOKEN_PRIVATE_KEY);
      const kid = kidOf(a.token);
      await t.app.get(IssuedTokens).reopen(new Date(Date.now() - 3_600_000));
      const records = t.app.get(IssuedTokenRepository);
      const onRecord = (token: string) => {
        const [header, payload] = token.split('.');
        const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as {
          deviceId: string;
          jti: string;
        };
        const digest = createHash('sha256').update(`${header}.${payload}`).digest('hex');
        return records.isOnRecord(claims.deviceId, claims.jti, digest);
      };
      const iat = Math.floor(Date.now() / 1000) - 60;
      const forged = [
        forge(key, kid, a, iat, { deviceId: 'f'.repeat(24) }),
        forge(key, kid, a, iat, { workerId: b.workerId }),
        forge(key, kid, a, iat, { siteIds: [a.siteId, b.siteId] }),
        forge(key, kid, a, iat, { siteIds: ['e'.repeat(24)] }),
      ];
      for (const token of forged) {
        expectNotIssued(await syncBatch(t.baseUrl, token, [signPacket(a)]));
        expect(await onRecord(token)).toBe(false);
      }
      // the phone's own claims: adopted
      const own = forge(key, kid, a, iat);
      expectAccepted(await syncBatch(t.baseUrl, own, [signPacket(a)]));
      expect(await onRecord(own)).toBe(true);
    },
    JOB_TIMEOUT,
  );
});
