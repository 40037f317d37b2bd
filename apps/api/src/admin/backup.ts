/**
 * `npm run backup -- --to <dir>`: an online, consistent copy of what a server on the SQLite
 * store keeps in DATA_DIR, taken while it runs: the database, the witness file, the vault
 * blobs and (outside production) secrets.json, with `backup-manifest.json` saying what was
 * copied, when, by which build, with sizes and SHA-256s. `<dir>` is then a DATA_DIR: restoring
 * is stopping the servers, putting it in place of DATA_DIR and starting them (README, "Backup
 * and restore").
 *
 * The copy must be a state the server could have been in, or a restored server's verifies
 * fail. The server writes in this order: a ledger or audit entry is committed, then its
 * checkpoint is appended to the witness file, then the checkpoint row is stored; a vault blob
 * is written before its row, and a row is shredded before its blob is removed. So:
 *
 * 1. the blobs present now (most of the bytes, before the snapshot: a blob removed later is
 *    still copied);
 * 2. the witness file, up to its last whole line: every line in it is of entries already
 *    committed, so the database copied after it holds them (the other order gives witness
 *    lines beyond the copied log: `tail_cut`). A line whose row was not stored yet is the
 *    state a crash between the two leaves, which the server repairs at boot;
 * 3. the database, with SQLite's online backup in one step inside one read transaction (a
 *    snapshot of one instant; the server's writes go on meanwhile, into its WAL). A snapshot
 *    in which a log's entries reach beyond its last checkpoint (a seal in flight: the row
 *    comes milliseconds after the entries) is a state a crash could leave, but a server
 *    restored from it verifies that log `checkpoint_missing` until its next append: so 2 and 3
 *    are taken again (the check runs in the snapshot's transaction, before any page is
 *    copied), up to SNAPSHOT_ATTEMPTS times;
 * 4. the blobs of the vault files the copied database holds that step 1 did not find (uploaded
 *    since); blobs copied in step 1 whose file the copy does not hold (an upload not yet
 *    committed, or shredded) are dropped.
 *
 * It does not boot the app (a backup must not migrate the store of the server it copies, nor
 * count as a server) and opens the database read-only (SQLite may add its `-wal`/`-shm` beside
 * a file no server has open). MongoDB deployments back up with mongodump in the same order
 * (README).
 */
import Database from 'better-sqlite3';
import { createHash, createPublicKey } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { existsSync, readFileSync } from 'node:fs';
import {
  chmod,
  copyFile,
  mkdir,
  open,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  activeKeySince,
  appConfig,
  ConfigError,
  jcs,
  parseKeyHistory,
  readStored,
  SECRETS_FILE,
} from '@app/common';
import { SQLITE_FILE } from '@app/persistence';
import { parseStoreMacHistory, parseStoreMacKey, rawEd25519, witnessFileOf } from '@app/tlog';

/** The manifest's name in the backup (a later backup of a restored DATA_DIR skips it). */
export const BACKUP_MANIFEST = 'backup-manifest.json';
/**
 * The manifest's format; a later build that changes it says so with another number. 2: the
 * manifest's own `digest`, `layout`, `build.version` and `build.stamp`, `logKeys`, and
 * secrets.json among the files with its size and digest.
 */
export const MANIFEST_FORMAT = 2;

export interface CopiedFile {
  /** Path in the backup (and in the restored DATA_DIR), `/`-separated. */
  path: string;
  bytes: number;
  sha256: string;
}

export interface BackupManifest {
  format: number;
  startedAt: string;
  /** The instant of the database snapshot: what the server had committed then is in the copy. */
  snapshotAt: string;
  finishedAt: string;
  /**
   * The server code that took it: the package version, the build stamp (the fingerprint of
   * the build's inputs, `scripts/support/build-stamp.js`: dist/.build-stamp when run from a
   * build, worked out from the sources when run from them; null: a build without a stamp),
   * Node's version and each module's schema version in the copy.
   */
  build: {
    version: string | null;
    stamp: string | null;
    stampOf: 'build' | 'sources';
    node: string;
    schema: Record<string, number>;
  };
  /**
   * The master key versions VAULT_KEYS held when the backup was taken (names only): a server
   * restored from it needs a VAULT_KEYS holding each version its values are sealed under.
   */
  vaultKeyVersions: string[];
  /**
   * The ids of the store-MAC keys the server held when the backup was taken (STORE_MAC_KEY's
   * and each STORE_MAC_RETIRED_KEYS entry's; ids, never keys): the copy's worker devices, kiosks
   * and fraud events may be tagged under any of them, and a server restored from it needs each
   * (a key dropped since goes back into STORE_MAC_RETIRED_KEYS), else those rows read tampered.
   * Absent from a manifest written before it was recorded, empty when none was readable.
   */
  storeMacKids?: string[];
  source: { dataDir: string; uploadsDir: string; witnessFile: string };
  /**
   * Where the witness file and the uploads are in the backup, relative to it (`/`-separated):
   * their path under DATA_DIR when they were inside it (a custom TLOG_WITNESS_FILE or
   * UPLOADS_DIR there), so the backup put in place of DATA_DIR has them where the same
   * configuration looks; else the default names, with `outside` true: a restore puts them back
   * at `source.witnessFile` / `source.uploadsDir`.
   */
  layout: {
    witnessFile: { path: string; outside: boolean };
    uploadsDir: { path: string; outside: boolean };
  };
  /**
   * The log's checkpoint verification keys when the backup was taken (public keys, with
   * their windows, as GET /api/v5/tlog/keys answers): what `backup --check` verifies the
   * copied checkpoints with when it is given no --key. Empty when TLOG_SIGNING_KEY was not
   * readable (neither in the environment nor in secrets.json).
   */
  logKeys: { keys: { publicKey: string; notBefore?: string; notAfter?: string }[] };
  database: { path: string; bytes: number; sha256: string; pages: number; quickCheck: string };
  witness: { path: string; bytes: number; sha256: string; lines: number };
  blobs: { count: number; bytes: number; files: CopiedFile[] };
  secrets: 'copied' | 'left out' | 'none in DATA_DIR';
  /** secrets.json's size and SHA-256 in the backup, when copied. */
  secretsFile?: CopiedFile;
  /**
   * Vault files the copy holds without their blob: deleted while the backup ran (a backup
   * taken again has none of them), or already missing from UPLOADS_DIR. A restored server
   * refuses to read them (`file_integrity_failed`).
   */
  missingBlobs: { fileId: string; why: 'deleted_during_backup' | 'missing_from_uploads' }[];
  /**
   * Logs whose entries in the copy reach beyond their last checkpoint (a seal was in flight at
   * every snapshot tried): a server restored from it verifies them `checkpoint_missing` until
   * their next append seals them.
   */
  unsealed: UnsealedLog[];
  /** Snapshots taken to find one with every log sealed. */
  snapshotAttempts: number;
  /** Entries of DATA_DIR the backup does not know and did not copy. */
  notCopied: string[];
  /**
   * Rows of the replica registry removed from the database copy (heartbeats of the servers
   * running then, not data: a restored store would count them as running servers).
   */
  replicaRowsLeftOut?: number;
  /**
   * SHA-256 (hex) of the manifest's JCS without this member: a manifest edited or damaged
   * since does not match it (`backup --check`).
   */
  digest: string;
}

/** The digest a manifest's `digest` member must hold. */
export function manifestDigest(manifest: Omit<BackupManifest, 'digest'> & { digest?: unknown }) {
  const { digest: _digest, ...rest } = manifest;
  return createHash('sha256').update(jcs(rest)).digest('hex');
}

/** Flushes a file or a directory to the disk (fsync): what a backup holds survives a power loss. */
export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * `file` written whole or not at all: into a temporary file beside it, flushed, renamed over
 * it, and the directory flushed (the rename is then on disk too).
 */
export async function writeAtomically(file: string, text: string, mode: number): Promise<void> {
  const temp = join(dirname(file), `.${basename(file)}.tmp`);
  await rm(temp, { force: true });
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  await syncPath(dirname(file));
}

/** The root of the code running (where package.json is), above this module's directory. */
function codeRoot(): string | undefined {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/** The code's version and build stamp (see BackupManifest.build). */
function buildOfCode(): Pick<BackupManifest['build'], 'version' | 'stamp' | 'stampOf'> {
  const root = codeRoot();
  if (root === undefined) return { version: null, stamp: null, stampOf: 'build' };
  let version: string | null = null;
  try {
    version =
      (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string })
        .version ?? null;
  } catch {
    version = null;
  }
  // the built admin.js runs from dist/: its build wrote the stamp there
  if (!relative(join(root, 'dist'), __dirname).startsWith('..')) {
    let stamp: string | null = null;
    try {
      stamp = readFileSync(join(root, 'dist', '.build-stamp'), 'utf8').trim() || null;
    } catch {
      stamp = null;
    }
    return { version, stamp, stampOf: 'build' };
  }
  // from the sources (npm run backup): the stamp a build of them would write
  const stampScript = join(root, 'scripts', 'support', 'build-stamp.js');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { fingerprint } = require(stampScript) as { fingerprint: (root: string) => string };
  return { version, stamp: fingerprint(root), stampOf: 'sources' };
}

/** The log's public keys with their windows from TLOG_SIGNING_KEY and TLOG_RETIRED_KEYS. */
function logKeysOf(env: NodeJS.ProcessEnv, stored: Record<string, string>) {
  const signing = env.TLOG_SIGNING_KEY || stored.TLOG_SIGNING_KEY;
  if (!signing) return { keys: [] };
  try {
    const active = createPublicKey({ key: signing.replace(/\\n/g, '\n'), format: 'pem' });
    const retired = parseKeyHistory(
      'TLOG_RETIRED_KEYS',
      env.TLOG_RETIRED_KEYS || stored.TLOG_RETIRED_KEYS,
      'ed25519',
    );
    const activeRaw = rawEd25519(active).toString('base64');
    const since = activeKeySince(retired);
    return {
      keys: [
        { publicKey: activeRaw, ...(since ? { notBefore: since.toISOString() } : {}) },
        ...retired
          .map((k) => ({
            publicKey: rawEd25519(k.publicKey).toString('base64'),
            notBefore: k.notBefore.toISOString(),
            notAfter: k.notAfter.toISOString(),
          }))
          .filter((k) => k.publicKey !== activeRaw),
      ],
    };
  } catch {
    return { keys: [] }; // the server refuses such a key at boot: nothing it signed to check
  }
}

interface BackupOptions {
  to: string;
  secrets: boolean;
}

function parseArgs(args: string[]): BackupOptions {
  let to: string | undefined;
  let secrets = true;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--to' && args[i + 1]) to = args[++i];
    else if (args[i] === '--without-secrets') secrets = false;
    else throw new ConfigError('backup', `unknown argument "${args[i]}"`);
  }
  if (!to) throw new ConfigError('backup', 'give the backup directory: --to <dir>');
  return { to: resolve(to), secrets };
}

/** Copies `from` to `to` (mode 0600), returning its size and SHA-256. */
async function copyHashed(from: string, to: string, limit?: number): Promise<CopiedFile> {
  const hash = createHash('sha256');
  let bytes = 0;
  const source = createReadStream(from, limit === undefined ? {} : { end: limit - 1 });
  source.on('data', (chunk: Buffer | string) => {
    hash.update(chunk);
    bytes += chunk.length;
  });
  await pipeline(source, createWriteStream(to, { mode: 0o600, flags: 'wx' }));
  return { path: to, bytes, sha256: hash.digest('hex') };
}

/** A file's size and SHA-256, read as a stream (a backup's files, and `--check` of them). */
export async function hashOf(file: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** The witness file's length up to (and with) its last newline: a line being appended is left out. */
async function wholeLinesLength(file: string): Promise<number> {
  const handle = await open(file, 'r').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (!handle) return 0;
  try {
    const { size } = await handle.stat();
    const window = Buffer.alloc(Math.min(size, 64 * 1024));
    let end = size;
    while (end > 0) {
      const from = Math.max(0, end - window.length);
      await handle.read(window, 0, end - from, from);
      const at = window.subarray(0, end - from).lastIndexOf(0x0a);
      if (at >= 0) return from + at + 1;
      end = from;
    }
    return 0;
  } finally {
    await handle.close();
  }
}

const isBlob = (name: string) => name.endsWith('.mdv');

/** Snapshots tried before one with a log's entries beyond its last checkpoint is kept. */
const SNAPSHOT_ATTEMPTS = 20;
/** Snapshots in a row with the same unsealed logs after which they are taken as they are. */
const SNAPSHOT_UNCHANGED = 3;
/** The pause after the n-th such snapshot: n times this, in ms. */
const SNAPSHOT_RETRY_MS = 25;

/** A log whose entries in the snapshot reach beyond its last checkpoint. */
export interface UnsealedLog {
  log: string;
  entries: number;
  checkpoint: number;
}

/**
 * The logs of the snapshot (`db` in a read transaction) whose entries reach beyond their last
 * checkpoint: a seal was in flight (entries committed, checkpoint row not yet stored). A
 * server started on such a copy has no seal in flight to wait for: its verify would answer
 * `checkpoint_missing` until the log's next append seals it. The logs are the ledger of each
 * site (`<origin>/ledger/<siteId>`, `attendance_logs`) and the vault audit (`vault_audit`).
 */
function unsealedLogs(db: Database.Database): UnsealedLog[] {
  const has = (table: string) =>
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !==
    undefined;
  if (!has('tlog_logs')) return [];
  const sealed = new Map(
    (
      db
        .prepare(
          `SELECT l.origin AS origin, COALESCE(MAX(c.size), 0) AS size
             FROM tlog_logs l LEFT JOIN tlog_checkpoints c ON c.log_id = l.id GROUP BY l.id`,
        )
        .all() as { origin: string; size: number }[]
    ).map((r) => [r.origin, r.size]),
  );
  const out: UnsealedLog[] = [];
  const check = (suffix: string, entries: number) => {
    // after a TLOG_ORIGIN change the old origin's row stays (its name is unique): the log's
    // checkpoint is the largest of those it has had
    let origin: string | undefined;
    let checkpoint = 0;
    for (const [o, size] of sealed) {
      if (o.endsWith(suffix) && (origin === undefined || size > checkpoint)) {
        origin = o;
        checkpoint = size;
      }
    }
    if (entries > checkpoint) out.push({ log: origin ?? suffix, entries, checkpoint });
  };
  if (has('vault_audit'))
    check(
      '/vault-audit',
      (db.prepare('SELECT COALESCE(MAX(seq), 0) AS n FROM vault_audit').get() as { n: number }).n,
    );
  if (has('attendance_logs') && has('sites')) {
    const head = db.prepare(
      'SELECT COALESCE(MAX(seq), 0) AS n FROM attendance_logs WHERE site_id = ?',
    );
    for (const { id } of db.prepare('SELECT id FROM sites').all() as { id: string }[])
      check(`/ledger/${id}`, (head.get(id) as { n: number }).n);
  }
  return out;
}

/** What steps 2 and 3 took: the witness copy and the database snapshot after it. */
export interface Snapshot {
  witness: CopiedFile;
  snapshotAt: Date;
  pages: number;
  unsealed: UnsealedLog[];
  attempts: number;
}

/**
 * Steps 2 and 3, until the snapshot has a checkpoint over every log's entries (or attempts run
 * out): each attempt reads the witness file again (its whole lines as they are then), then
 * takes the database snapshot, so the witness copy kept is always the one read just before the
 * database copy kept. `pause` is the wait between attempts (a seal in flight completes then).
 */
export async function snapshotWitnessThenDatabase(
  paths: { database: string; witnessFile: string; witnessTarget: string; databaseTarget: string },
  pause: (ms: number, attempt: number) => Promise<unknown> = (ms) => sleep(ms),
): Promise<Snapshot> {
  const { database, witnessFile, witnessTarget, databaseTarget } = paths;
  const source = new Database(database, { readonly: true, fileMustExist: true });
  let witness: { path: string; bytes: number; sha256: string };
  let snapshotAt: Date;
  let pages: number;
  let unsealed: UnsealedLog[];
  let attempts = 0;
  // the same logs unsealed at the same lengths snapshot after snapshot: no seal is in flight
  // (entries an old build or a crash left without a checkpoint, sealed by the log's next
  // append); waiting on does not change them
  let previous = '';
  let unchanged = 0;
  try {
    source.pragma('busy_timeout = 10000');
    for (;;) {
      attempts++;
      // 2. the witness file, whole lines only, before the database
      await rm(witnessTarget, { force: true });
      const witnessLength = await wholeLinesLength(witnessFile);
      witness =
        witnessLength > 0
          ? await copyHashed(witnessFile, witnessTarget, witnessLength)
          : await writeFile(witnessTarget, '', { mode: 0o600 }).then(() => ({
              path: witnessTarget,
              bytes: 0,
              sha256: createHash('sha256').digest('hex'),
            }));
      // 3. the database: one read transaction, one instant. Its first read fixes the snapshot;
      // the backup, in one step, copies that snapshot
      snapshotAt = new Date();
      // eslint-disable-next-line mdai/sqlite-transaction-mode -- a read transaction on a readonly connection (no write can come), held across the backup's awaits (which readTransaction, synchronous, cannot)
      source.exec('BEGIN');
      try {
        unsealed = unsealedLogs(source);
        const seen = JSON.stringify(unsealed);
        unchanged = seen === previous ? unchanged + 1 : 0;
        previous = seen;
        if (
          unsealed.length === 0 ||
          attempts >= SNAPSHOT_ATTEMPTS ||
          unchanged >= SNAPSHOT_UNCHANGED
        ) {
          const done = await source.backup(databaseTarget, { progress: () => 0x7fffffff });
          pages = done.totalPages;
          break;
        }
      } finally {
        source.exec('COMMIT');
      }
      // a seal in flight: its checkpoint row comes a few milliseconds after the entries
      await pause(SNAPSHOT_RETRY_MS * attempts, attempts);
    }
  } finally {
    source.close();
  }
  return { witness, snapshotAt, pages, unsealed, attempts };
}

/**
 * The replica registry's tables (`replicas`; `store_mac_replicas` and `vault_key_holders` of a
 * store not yet migrated to it), emptied in a backup's database copy: the rows are heartbeats
 * of the servers running when it was taken. The number of rows removed.
 */
export const REPLICA_REGISTRY_TABLES = ['replicas', 'store_mac_replicas', 'vault_key_holders'];

export function clearReplicaRegistry(copy: Database.Database): number {
  let removed = 0;
  const exists = copy.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
  copy
    .transaction(() => {
      for (const table of REPLICA_REGISTRY_TABLES)
        if (exists.get(table)) removed += copy.prepare(`DELETE FROM ${table}`).run().changes;
    })
    .immediate();
  return removed;
}

/** The version names of a VAULT_KEYS value (`v1:<key>,v2:<key>` → v1, v2), never a key. */
function vaultKeyVersions(keys: string | undefined): string[] {
  return (keys ?? '')
    .split(',')
    .map((entry) => /^\s*([A-Za-z0-9_-]{1,32}):/.exec(entry)?.[1])
    .filter((version): version is string => version !== undefined);
}

/**
 * The ids of the store-MAC keys a configuration holds (STORE_MAC_KEY, then each
 * STORE_MAC_RETIRED_KEYS entry), from the environment or else secrets.json's values; undefined
 * when it names no STORE_MAC_KEY or a value does not parse (the server refuses it at boot).
 */
export function storeMacKidsOf(
  env: NodeJS.ProcessEnv,
  stored: Record<string, string>,
): string[] | undefined {
  const current = env.STORE_MAC_KEY || stored.STORE_MAC_KEY;
  if (!current) return undefined;
  try {
    const kids = [parseStoreMacKey('STORE_MAC_KEY', current).kid];
    const retired = env.STORE_MAC_RETIRED_KEYS ?? stored.STORE_MAC_RETIRED_KEYS;
    for (const key of parseStoreMacHistory('STORE_MAC_RETIRED_KEYS', retired))
      if (!kids.includes(key.kid)) kids.push(key.kid);
    return kids;
  } catch {
    return undefined;
  }
}

export async function runBackup(
  env: NodeJS.ProcessEnv,
  options: BackupOptions,
  say: (line: string) => void,
  warn: (line: string) => void = say,
): Promise<BackupManifest> {
  if (env.DATABASE_URL)
    throw new ConfigError(
      'DATABASE_URL',
      'backup copies the SQLite store; on MongoDB back up with mongodump (README, "Backup and restore")',
    );
  const app = appConfig.read(env);
  const { dataDir, uploadsDir } = app;
  const witnessFile = witnessFileOf(env.TLOG_WITNESS_FILE, dataDir);
  const database = join(dataDir, SQLITE_FILE);
  if (!(await stat(database).catch(() => undefined))?.isFile())
    throw new ConfigError(
      'DATA_DIR',
      `no store at ${database}: run the backup with the server's DATA_DIR`,
    );
  const to = options.to;
  // by real paths (a symlink on the way to --to led into DATA_DIR), against every place the
  // server writes: DATA_DIR, the uploads and the witness file's directory
  const real = async (path: string): Promise<string> => {
    // the deepest part of the path that exists, resolved (links included, the last part too),
    // and the parts mkdir will create below it
    const resolved = await realpath(path).catch(() => undefined);
    if (resolved !== undefined) return resolved;
    const parent = dirname(path);
    return parent === path ? path : join(await real(parent), basename(path));
  };
  const realTo = await real(to);
  for (const place of [dataDir, uploadsDir, dirname(witnessFile)]) {
    const realPlace = await realpath(place).catch(() => place);
    if (
      realTo === realPlace ||
      realTo.startsWith(realPlace + sep) ||
      realPlace.startsWith(realTo + sep)
    )
      throw new ConfigError(
        'backup',
        "--to must be outside DATA_DIR, the uploads and the witness file's directory (and not contain them)",
      );
  }
  const existing = await readdir(to).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  if (existing.length > 0) throw new ConfigError('backup', `${to} is not empty`);
  // a custom witness file or uploads directory inside DATA_DIR goes where it is there, so the
  // backup put in place of DATA_DIR has it where the same configuration looks; one outside
  // DATA_DIR takes the default name (the manifest's layout says where it goes back)
  const underDataDir = (path: string): string | undefined => {
    const rel = relative(dataDir, path);
    return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? undefined : rel;
  };
  const witnessRel = underDataDir(witnessFile) ?? 'tlog-witness.ndjson';
  const uploadsRel = underDataDir(uploadsDir) ?? 'uploads';
  const uploadsTarget = join(to, uploadsRel);
  const madeDirs = new Set<string>([to]);
  const makeDir = async (dir: string) => {
    // every directory created, to flush once the files are in them
    for (let d = dir; d !== to && !madeDirs.has(d); d = dirname(d)) madeDirs.add(d);
    await mkdir(dir, { recursive: true, mode: 0o700 });
  };
  await makeDir(uploadsTarget);
  await makeDir(dirname(join(to, witnessRel)));
  await chmod(to, 0o700);
  const startedAt = new Date();
  const inBackup = (path: string) => relative(to, path).split(sep).join('/');

  // 1. the blobs there now
  const blobs = new Map<string, CopiedFile>();
  const copyBlob = async (name: string): Promise<boolean> => {
    try {
      const copied = await copyHashed(join(uploadsDir, name), join(uploadsTarget, name));
      blobs.set(name, { ...copied, path: inBackup(copied.path) });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await rm(join(uploadsTarget, name), { force: true });
      return false; // removed meanwhile
    }
  };
  const present = await readdir(uploadsDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  for (const name of present.filter(isBlob)) await copyBlob(name);

  // 2 and 3, until the snapshot has a checkpoint over every log's entries (or attempts run out)
  const witnessTarget = join(to, witnessRel);
  const databaseTarget = join(to, SQLITE_FILE);
  const { witness, snapshotAt, pages, unsealed, attempts } = await snapshotWitnessThenDatabase({
    database,
    witnessFile,
    witnessTarget,
    databaseTarget,
  });
  await chmod(witnessTarget, 0o600); // a backup's files are its owner's only, as the rest
  const lines = (await readFile(witnessTarget)).reduce((n, byte) => n + (byte === 0x0a ? 1 : 0), 0);
  await chmod(databaseTarget, 0o600);
  const copy = new Database(databaseTarget, { fileMustExist: true });
  let live: string[];
  let schema: Record<string, number>;
  let quickCheck: string;
  let cleared: number;
  try {
    quickCheck = (copy.pragma('quick_check', { simple: true }) as string) ?? 'unknown';
    schema = Object.fromEntries(
      (
        copy
          .prepare('SELECT scope, MAX(version) AS version FROM schema_migrations GROUP BY scope')
          .all() as { scope: string; version: number }[]
      ).map((r) => [r.scope, r.version]),
    );
    const hasVault = copy
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'vault_files'")
      .get();
    live = hasVault
      ? (
          copy.prepare('SELECT id FROM vault_files WHERE wrapped_key IS NOT NULL').all() as {
            id: string;
          }[]
        ).map((r) => r.id)
      : [];
    // the replica registry's heartbeats are liveness, not data: a row copied would count, on
    // the restored store, the server that ran at the snapshot as a running one until its row
    // ages out (keys:reseal, keys:retag refused meanwhile). Cleared in the copy, also under
    // the names of the release before (a backup does not migrate)
    cleared = clearReplicaRegistry(copy);
    // the copy is a file of its own: no WAL beside it, and none made when it is opened
    // read-only (`backup --check`); the server sets WAL again when it opens it
    copy.pragma('wal_checkpoint(TRUNCATE)');
    copy.pragma('journal_mode = DELETE');
  } finally {
    copy.close();
  }
  if (quickCheck !== 'ok') throw new Error(`the database copy fails its check: ${quickCheck}`);

  // 4. the blobs of the files the copy holds, uploaded since step 1; the others dropped
  const wanted = new Set(live.map((id) => `${id}.mdv`));
  const lost: string[] = [];
  for (const name of wanted) {
    if (!blobs.has(name) && !(await copyBlob(name))) lost.push(name);
  }
  for (const name of [...blobs.keys()]) {
    if (wanted.has(name)) continue;
    await rm(join(uploadsTarget, name));
    blobs.delete(name);
  }
  // a file the copy holds whose blob is gone: deleted since the snapshot (its row is shredded
  // in the store now), or missing from UPLOADS_DIR before the backup ran (a damaged DATA_DIR)
  const missingBlobs: BackupManifest['missingBlobs'] = [];
  if (lost.length > 0) {
    const now = new Database(database, { readonly: true, fileMustExist: true });
    try {
      const row = now.prepare('SELECT wrapped_key FROM vault_files WHERE id = ?');
      for (const name of lost) {
        const fileId = name.slice(0, -'.mdv'.length);
        const current = row.get(fileId) as { wrapped_key: string | null } | undefined;
        missingBlobs.push({
          fileId,
          why: current?.wrapped_key ? 'missing_from_uploads' : 'deleted_during_backup',
        });
      }
    } finally {
      now.close();
    }
  }

  // secrets.json: the keys everything above is sealed and signed with (outside production)
  const secretsFile = join(dataDir, SECRETS_FILE);
  const hasSecrets = (await stat(secretsFile).catch(() => undefined))?.isFile() ?? false;
  let secrets: BackupManifest['secrets'] = hasSecrets ? 'left out' : 'none in DATA_DIR';
  let secretsCopy: CopiedFile | undefined;
  if (hasSecrets && options.secrets) {
    await copyFile(secretsFile, join(to, SECRETS_FILE));
    await chmod(join(to, SECRETS_FILE), 0o600);
    secretsCopy = { path: SECRETS_FILE, ...(await hashOf(join(to, SECRETS_FILE))) };
    secrets = 'copied';
  }

  const known = new Set([
    SQLITE_FILE,
    `${SQLITE_FILE}-wal`,
    `${SQLITE_FILE}-shm`,
    SECRETS_FILE,
    BACKUP_MANIFEST,
    // a custom path inside DATA_DIR: its first part (copied above, not again)
    ...[witnessFile, uploadsDir].map((p) => underDataDir(p)?.split(sep)[0]),
  ]);
  const notCopied = (await readdir(dataDir)).filter((name) => !known.has(name)).sort();

  const { bytes: dbBytes, sha256: dbHash } = await hashOf(databaseTarget);
  const files = [...blobs.values()].sort((a, b) => a.path.localeCompare(b.path));

  // everything on disk before the manifest says the backup is whole: the files, then the
  // directories holding them (their entries), deepest first
  for (const file of [
    databaseTarget,
    witnessTarget,
    ...files.map((f) => join(to, f.path)),
    ...(secretsCopy ? [join(to, SECRETS_FILE)] : []),
  ])
    await syncPath(file);
  for (const dir of [...madeDirs].sort((a, b) => b.length - a.length)) await syncPath(dir);
  await syncPath(dirname(to)).catch(() => undefined); // --to itself, if this backup made it

  const stored = readStored(secretsFile);
  const body: Omit<BackupManifest, 'digest'> = {
    format: MANIFEST_FORMAT,
    startedAt: startedAt.toISOString(),
    snapshotAt: snapshotAt.toISOString(),
    finishedAt: new Date().toISOString(),
    build: { ...buildOfCode(), node: process.version, schema },
    vaultKeyVersions: vaultKeyVersions(env.VAULT_KEYS ?? stored.VAULT_KEYS),
    storeMacKids: storeMacKidsOf(env, stored) ?? [],
    source: { dataDir, uploadsDir, witnessFile },
    layout: {
      witnessFile: {
        path: inBackup(witnessTarget),
        outside: underDataDir(witnessFile) === undefined,
      },
      uploadsDir: {
        path: inBackup(uploadsTarget),
        outside: underDataDir(uploadsDir) === undefined,
      },
    },
    logKeys: logKeysOf(env, stored),
    database: { path: SQLITE_FILE, bytes: dbBytes, sha256: dbHash, pages, quickCheck },
    witness: { path: inBackup(witness.path), bytes: witness.bytes, sha256: witness.sha256, lines },
    blobs: { count: files.length, bytes: files.reduce((n, f) => n + f.bytes, 0), files },
    secrets,
    ...(secretsCopy ? { secretsFile: secretsCopy } : {}),
    missingBlobs,
    unsealed,
    snapshotAttempts: attempts,
    notCopied,
    replicaRowsLeftOut: cleared,
  };
  const manifest: BackupManifest = { ...body, digest: manifestDigest(body) };
  // last, whole or not at all: a backup cut short (killed, power lost) has no manifest, and a
  // directory without one is not a backup
  await writeAtomically(join(to, BACKUP_MANIFEST), JSON.stringify(manifest, null, 2) + '\n', 0o600);
  say(
    `backup of ${dataDir} in ${to}: database ${dbBytes} bytes (snapshot ${manifest.snapshotAt}), ` +
      `witness ${lines} lines, ${files.length} vault blobs (${manifest.blobs.bytes} bytes), secrets.json ${secrets}`,
  );
  if (secrets === 'copied')
    say(
      'the backup holds secrets.json (the keys the data is sealed and signed with): keep it as a secret, or use --without-secrets and keep secrets.json elsewhere',
    );
  if (notCopied.length > 0) say(`not copied (unknown to the backup): ${notCopied.join(', ')}`);
  if (missingBlobs.length > 0) {
    const during = missingBlobs.filter((m) => m.why === 'deleted_during_backup').length;
    warn(
      `${missingBlobs.length} vault file(s) of the copy have no blob (${during} deleted while the backup ran, ` +
        `${missingBlobs.length - during} already missing from UPLOADS_DIR; ids in ${BACKUP_MANIFEST}): ` +
        'a restored server refuses to read them. Run the backup again for a copy without the deleted ones',
    );
  }
  if (unsealed.length > 0)
    warn(
      `${unsealed.length} log(s) had entries beyond their last checkpoint in each of ${attempts} snapshots ` +
        `(listed under unsealed in ${BACKUP_MANIFEST}): a server restored from this copy verifies them ` +
        'checkpoint_missing until their next append seals them (so does the running server when they ' +
        'stayed the same: no seal was in flight). Otherwise run the backup again at a quieter time',
    );
  return manifest;
}

/**
 * `backup --to <dir> [--without-secrets]` with its arguments. Exit code 0: a complete backup;
 * 2: a backup with vault files whose blob is missing or logs not sealed (named in the
 * manifest); 1: none. `backup --check <dir> [--key <key>]`: backup-check.ts.
 */
export function backup(args: string[]): void {
  if (args.includes('--check')) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require('./backup-check') as typeof import('./backup-check')).backupCheck(args);
    return;
  }
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const warn = (line: string) => process.stderr.write(`warning: ${line}\n`);
  Promise.resolve()
    .then(async () => {
      const manifest = await runBackup(process.env, parseArgs(args), say, warn);
      if (manifest.missingBlobs.length > 0 || manifest.unsealed.length > 0) process.exitCode = 2;
    })
    .catch((error: unknown) => {
      process.stderr.write(
        error instanceof ConfigError
          ? `config error: ${error.message}\n`
          : `backup failed: ${(error as Error).message}\n`,
      );
      process.exit(1);
    });
}
