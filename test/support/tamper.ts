import Database from 'better-sqlite3';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Env, ManualClock, readStored, SECRETS_FILE, writeStored } from '@app/common';
import { MongoStore, SQLITE_FILE, Store } from '@app/persistence';
import { auditRecordHash, VaultAuditEntry } from '@app/vault/domain/vault-audit-record';
import { runScript } from './processes';
import { dropMongoDatabaseOf, http, JsonResponse, startTestApp, TestApp } from './test-app';
import { canonicalJson, sha256Hex } from './worker-client';

/**
 * What someone who can write the app's SQLite file (but does not hold its keys) does to it,
 * for the e2e specs that check the server notices: the file opened on its own connection, a
 * statement run, the file closed again; the app restarted on the same DATA_DIR after.
 */

/** An app's DATA_DIR, or the app itself. */
type DataDirOf = string | { dataDir: string };

const dirOf = (where: DataDirOf) => (typeof where === 'string' ? where : where.dataDir);

/** A connection of its own to the SQLite file of the app on `where` (the caller closes it). */
export function openStoreFile(where: DataDirOf): Database.Database {
  return new Database(join(dirOf(where), SQLITE_FILE));
}

/** Runs `work` on a connection of its own to the app's SQLite file, closed after. */
export function withStoreFile<T>(where: DataDirOf, work: (db: Database.Database) => T): T {
  const db = openStoreFile(where);
  try {
    return work(db);
  } finally {
    db.close();
  }
}

/**
 * Runs `sql` on the app's SQLite file, or `mongo` on its MongoDB connection, as a database
 * writer would (for the tamper specs: the same change on either store).
 */
export async function editStore(
  t: TestApp,
  sql: (db: Database.Database) => void,
  mongo: (c: MongoStore['connection']) => Promise<unknown>,
): Promise<void> {
  if (t.config.database.driver === 'sqlite') withStoreFile(t, sql);
  else await mongo(t.app.get<Store, MongoStore>(Store).connection);
}

/** A tamper suite's server (`t`), started before all its tests on `clock`, closed after. */
export interface TamperApp {
  readonly t: TestApp;
  /** The server's clock: the current second at the start. */
  readonly clock: ManualClock;
  /** An admin's request to the server. */
  admin(method: string, path: string, body?: object): Promise<JsonResponse>;
}

/** For a describe block that changes rows as a database writer: one server for its tests. */
export function tamperApp(): TamperApp {
  let t: TestApp | undefined;
  const clock = new ManualClock(new Date(Math.floor(Date.now() / 1000) * 1000));
  beforeAll(async () => {
    t = await startTestApp({}, { clock });
  }, 120_000);
  afterAll(async () => t?.close());
  return {
    get t() {
      if (!t) throw new Error('tamperApp: no server running');
      return t;
    },
    clock,
    admin: (method, path, body) =>
      http(t!.baseUrl, method, path, { key: t!.keys.admin, ...(body ? { body } : {}) }),
  };
}

/**
 * `t` closed with its data kept, `whileStopped` run on its DATA_DIR (a change to the files no
 * running server sees being made), and a new app started on the same DATA_DIR (and `env`).
 */
export async function restartApp(
  t: TestApp,
  whileStopped?: (dataDir: string) => unknown,
  env: Env = {},
): Promise<TestApp> {
  await t.close({ keepData: true });
  await whileStopped?.(t.dataDir);
  return startTestApp({ ...env, DATA_DIR: t.dataDir });
}

/** A test's server on a DATA_DIR of its own, stopped and started again on it (see dataDirApp). */
export interface DataDirApp {
  /** The DATA_DIR, made before each test and removed after it. */
  readonly dataDir: string;
  /** The running server (throws when none is). */
  readonly t: TestApp;
  /** A server started on the DATA_DIR with the suite's env and `env`. */
  start(env?: Env): Promise<TestApp>;
  /** The running server closed with its data kept. */
  stop(): Promise<void>;
  /**
   * The running server (if one is) closed with its data kept, `whileStopped` run on the
   * DATA_DIR, and a server started on it again with the suite's env and `env`.
   */
  restart(whileStopped?: (dataDir: string) => unknown, env?: Env): Promise<TestApp>;
}

/**
 * For a describe block whose tests stop a server and start it again on the same DATA_DIR
 * (with other env, or the files changed in between): each test gets a DATA_DIR of its own
 * (`mdai-<name>-…`, on MongoDB its own database); the server still running after it is closed,
 * the DATA_DIR removed. `env` goes to every start.
 */
export function dataDirApp(name: string, env: Env = {}): DataDirApp {
  let dataDir: string | undefined;
  let running: TestApp | undefined;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), `mdai-${name}-`));
  });
  afterEach(async () => {
    const last = running;
    running = undefined;
    await last?.close();
    // the server's close() keeps the store of a DATA_DIR it was given: its database goes here
    await dropMongoDatabaseOf(dataDir!);
    rmSync(dataDir!, { recursive: true, force: true });
  });
  const start = async (more: Env = {}) => {
    if (running) throw new Error('dataDirApp: a server is already running on the DATA_DIR');
    running = await startTestApp({ ...env, ...more, DATA_DIR: dataDir });
    return running;
  };
  const stop = async () => {
    const last = running;
    running = undefined;
    await last?.close({ keepData: true });
  };
  return {
    get dataDir() {
      return dataDir!;
    },
    get t() {
      if (!running) throw new Error('dataDirApp: no server running');
      return running;
    },
    start,
    stop,
    restart: async (whileStopped, more) => {
      await stop();
      await whileStopped?.(dataDir!);
      return start(more);
    },
  };
}

/**
 * The legacy-tagging marker of a tagged store (`marker`: its SQLite table or MongoDB collection,
 * `worker_device_seal`, `kiosk_seal`) cleared, as a database writer could: the next start finds
 * no marker.
 */
export async function clearLegacyMarker(t: TestApp, marker: string): Promise<void> {
  if (t.config.database.driver === 'sqlite') {
    withStoreFile(t, (db) => {
      db.prepare(`UPDATE ${marker} SET legacy_sealed_at = NULL, legacy_sealed_count = NULL`).run();
    });
  } else {
    await t.app.get<Store, MongoStore>(Store).connection.collection(marker).deleteMany({});
  }
}

/**
 * Drops the retired store-MAC key `kid` from the secrets.json of `dataDir` (as the docs allow
 * once no row is tagged under it), checking it was there.
 */
export function dropRetiredStoreMacKey(dataDir: string, kid: string): void {
  const file = join(dataDir, SECRETS_FILE);
  const stored = readStored(file);
  const history = JSON.parse(stored.STORE_MAC_RETIRED_KEYS) as Array<{ kid: string }>;
  expect(history.map((k) => k.kid)).toContain(kid);
  stored.STORE_MAC_RETIRED_KEYS = JSON.stringify(history.filter((k) => k.kid !== kid));
  writeStored(file, stored);
}

/** A vault audit entry of an auditor's allowed read of `fileId`, now (for a purpose). */
export function auditorReadEntry(
  fileId: string,
  fields: { purpose?: string } = {},
): VaultAuditEntry {
  return {
    id: randomBytes(12).toString('hex'),
    fileId,
    actor: 'auditor:000000000000',
    role: 'auditor',
    ip: '127.0.0.1',
    purpose: fields.purpose ?? 'case review',
    action: 'read',
    result: 'allowed',
    at: new Date(),
  };
}

/**
 * A database writer's vault audit record after the head: an auditor's read of `fileId`,
 * hashed as the server hashes it (recomputing a recordHash needs no key), with `tag` as its
 * mac and key id (none: untagged). Returns its seq.
 */
export function forgeAuditRecord(
  where: DataDirOf,
  fileId: string,
  tag: { mac: string | null; kid: string | null } = { mac: null, kid: null },
  fields: { purpose?: string } = {},
): number {
  return withStoreFile(where, (db) => {
    const head = db
      .prepare('SELECT seq, record_hash FROM vault_audit ORDER BY seq DESC LIMIT 1')
      .get() as { seq: number; record_hash: string };
    const entry = auditorReadEntry(fileId, fields);
    const seq = head.seq + 1;
    db.prepare(
      `INSERT INTO vault_audit (seq, id, file_id, actor, role, ip, purpose, action, result, reason, at, prev_hash, record_hash, mac, mac_kid)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)`,
    ).run(
      seq,
      entry.id,
      fileId,
      entry.actor,
      entry.role,
      entry.ip,
      entry.purpose,
      entry.action,
      entry.result,
      entry.at.toISOString(),
      head.record_hash,
      auditRecordHash(entry, seq, head.record_hash),
      tag.mac,
      tag.kid,
    );
    return seq;
  });
}

/**
 * A database writer's `n` ledger links after the site's head, copies of the head with a new
 * packet id and signature and the type and time `punch(i)` gives the i-th, hashed and chained
 * as the server does, with no MAC. Returns the last one's seq.
 */
export function forgeLedgerLinks(
  where: DataDirOf,
  siteId: string,
  n: number,
  punch: (i: number) => { type: string; timestamp: string },
): number {
  return withStoreFile(where, (db) => {
    const last = db
      .prepare('SELECT * FROM attendance_logs WHERE site_id = ? ORDER BY seq DESC LIMIT 1')
      .get(siteId) as Record<string, any>;
    let prevHash = last.record_hash as string;
    let seq = last.seq as number;
    const meta = JSON.parse(last.meta);
    const insert = db.prepare(
      `INSERT INTO attendance_logs (site_id, seq, packet_id, device_id, prev_hash, record_hash, data, meta)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (let i = 0; i < n; i++) {
      seq++;
      const data = {
        ...JSON.parse(last.data),
        packetId: randomUUID(),
        ...punch(i),
        signature: randomBytes(32).toString('hex'),
      };
      const recordHash = sha256Hex(canonicalJson({ siteId, seq, prevHash, data, meta }));
      insert.run(
        siteId,
        seq,
        data.packetId,
        data.deviceId,
        prevHash,
        recordHash,
        canonicalJson(data),
        canonicalJson(meta),
      );
      prevHash = recordHash;
    }
    return seq;
  });
}

/** `npm run <log>:seal-foreign -- <args>` on the store of `dataDir`: its exit code and output. */
export function sealForeign(log: 'ledger' | 'vault', dataDir: string, ...args: string[]) {
  return runScript(`${log}-seal-foreign`, dataDir, args);
}

/** The arguments a seal-foreign listing (run without --yes) says to confirm it with. */
export function sealConfirmation(listing: string): string[] {
  const found = /run again with (--yes --through \d+ --head [0-9a-f]{64}) /.exec(listing);
  expect(found).not.toBeNull();
  return found![1].split(' ');
}
