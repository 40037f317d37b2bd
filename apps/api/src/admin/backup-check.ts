/**
 * `npm run backup -- --check <dir> [--key <key>]`: whether a backup made by `backup --to` is
 * whole and sound, without a server (README, "Backup and restore"):
 *
 * - `backup-manifest.json` is there (written last, atomically: a backup cut short has none),
 *   in this build's format, and its `digest` matches its content;
 * - every file it lists is there with its size and SHA-256, and nothing else is;
 * - the SQLite copy passes `PRAGMA integrity_check`, and each vault file it holds live has its
 *   blob (or is named in `missingBlobs`);
 * - each log of the copy (each site's ledger, the vault audit) verifies against its latest
 *   stored checkpoint as `npm run verify:log` verifies an export (the same code:
 *   `checkLogAgainstCheckpoint`), with the keys --key gives or else the manifest's `logKeys`,
 *   and has no entry past that checkpoint unless the manifest's `unsealed` names it (the logs
 *   are those the data holds: a log with entries and no checkpoint is a problem too);
 * - every line of the copied witness file is of a log of the copy, within its length, with the
 *   root of the copied log at that size, and equal to the stored checkpoint of that size.
 *
 * Exit code 0: it checks out; 1: it does not, one line per problem on stderr; 2: it checks out,
 * but its manifest names vault files without their blob or unsealed logs (the backup exited 2).
 */
import Database from 'better-sqlite3';
import { createReadStream, existsSync } from 'node:fs';
import { lstat, readdir, readFile, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, normalize, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { ConfigError, readStored, SECRETS_FILE, sha256Hex } from '@app/common';
import { type ChainLink, GENESIS_HASH, noteSignedBy, parseNote } from '@app/tlog';
import { parseWorkers } from '@app/timesheets/payroll-close/payroll-close.repository';
import { closeTagData } from '@app/timesheets/payroll-close/payroll-close.service';
import { auditRecordHash, VaultAuditEntry } from '@app/vault/domain/vault-audit-record';
import { KEY_COPIES_DISAGREE_TEXT } from '@app/offline-sync/infrastructure/persistence/attendance-log.repository';
import { KEY_COPIES_AGREE } from '@app/offline-sync/infrastructure/persistence/sqlite/sqlite-ledger.migrations';
import { q } from './quote';
import {
  BACKUP_MANIFEST,
  BackupManifest,
  hashOf,
  MANIFEST_FORMAT,
  manifestDigest,
  storeMacKidsOf,
} from './backup';
import {
  checkLogAgainstCheckpoint,
  ExportLine,
  GivenKey,
  givenKeys,
  keysOfText,
  LEDGER_EXPORT,
  LogKind,
  oneLine,
} from './verify-log';

/** The largest manifest read (a backup of a million blobs has a manifest of ~150 MB). */
const MAX_MANIFEST_BYTES = 512 * 1024 * 1024;

/** Problems reported of one kind before the rest are counted only. */
const MAX_PER_KIND = 20;

/** A vault audit row of the copy as a link: the audit's own recordHash formula. */
interface AuditLink extends ChainLink {
  entry: VaultAuditEntry;
}

const VAULT_AUDIT: LogKind<AuditLink> = {
  recordHash: (l) => auditRecordHash(l.entry, l.seq, l.prevHash),
  chainOf: () => 'vault-audit',
  originSuffix: () => '/vault-audit',
  named: () => 'the vault audit',
};

/** A linked payroll close of the copy as a link: its digest, the one before's as prevHash. */
interface CloseLink extends ChainLink {
  siteId: string;
  /** What the close's digest is taken over (its tag's data). */
  data: string;
}

/**
 * A site's payroll closes (`<TLOG_ORIGIN>/payroll-closes/<siteId>`): leaf n is close n's
 * digest, each close names the one before's digest (`prev`, base64url; '' for the first).
 */
const PAYROLL_CLOSES: LogKind<CloseLink> = {
  recordHash: (l) => sha256Hex(l.data),
  chainOf: (l) => l.siteId,
  originSuffix: (siteId) => `/payroll-closes/${siteId}`,
  named: (siteId) => `the payroll closes of ${siteId === undefined ? 'no site' : q(siteId)}`,
};

interface CheckOptions {
  dir: string;
  key?: string;
  /**
   * The configuration a restore would start with (the command's environment, and outside
   * production `<DATA_DIR>/secrets.json`): the manifest's `storeMacKids` are compared with the
   * store-MAC keys it holds. Absent: not compared.
   */
  env?: NodeJS.ProcessEnv;
}

export function parseCheckArgs(args: string[]): CheckOptions {
  let dir: string | undefined;
  let key: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--check' && args[i + 1] && !args[i + 1].startsWith('--')) dir = args[++i];
    else if (args[i] === '--check')
      continue; // no directory after it: said below
    else if (args[i] === '--key' && args[i + 1]) key = args[++i];
    else throw new ConfigError('backup', `unknown argument "${args[i]}"`);
  }
  if (!dir)
    throw new ConfigError(
      'backup',
      'the backup directory is missing: give it after --check (--check <dir>)',
    );
  return { dir: resolve(dir), key };
}

/** Every file under `dir`, as `/`-separated paths relative to it. */
async function filesUnder(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await filesUnder(dir, path)));
    else out.push(path);
  }
  return out;
}

/** A manifest path that stays inside the backup (relative, no `..`). */
function safePath(path: unknown): path is string {
  if (typeof path !== 'string' || path === '' || isAbsolute(path) || path.includes('\\'))
    return false;
  const normal = normalize(path);
  return normal === path && !normal.split(sep).includes('..');
}

/** What a check went through (for its OK line). */
export interface CheckTally {
  files: number;
  bytes: number;
  logs: number;
  entries: number;
  witnessLines: number;
  /** The manifest's `missingBlobs` and `unsealed` counts: a backup that exited 2. */
  missingBlobs: number;
  unsealed: number;
  /** Whether the manifest's store-MAC key ids were compared with the configuration's. */
  storeMacKeys?: 'compared' | 'not recorded' | 'no configuration';
}

const newTally = (): CheckTally => ({
  files: 0,
  bytes: 0,
  logs: 0,
  entries: 0,
  witnessLines: 0,
  missingBlobs: 0,
  unsealed: 0,
});

/**
 * The problems of the backup in `dir`, one line each (empty: it checks out); `tally` counts
 * what was checked.
 */
export async function checkBackup(
  options: CheckOptions,
  tally: CheckTally = newTally(),
): Promise<string[]> {
  const { dir } = options;
  const problems: string[] = [];
  const counted = new Map<string, number>();
  const problem = (kind: string, line: string) => {
    const n = (counted.get(kind) ?? 0) + 1;
    counted.set(kind, n);
    if (n <= MAX_PER_KIND) problems.push(line);
  };
  const ended = () => {
    for (const [kind, n] of counted)
      if (n > MAX_PER_KIND) problems.push(`${n - MAX_PER_KIND} more of: ${kind}`);
    return problems;
  };

  if (!(await stat(dir).catch(() => undefined))?.isDirectory())
    return [`${q(dir)}: not a directory`];
  // 1. the manifest, written last: without it the backup was cut short
  const manifestFile = join(dir, BACKUP_MANIFEST);
  const manifestStat = await stat(manifestFile).catch(() => undefined);
  if (!manifestStat?.isFile())
    return [
      `no ${BACKUP_MANIFEST}: an incomplete backup (cut short before its manifest was written, or not a backup); take it again`,
    ];
  if (manifestStat.size > MAX_MANIFEST_BYTES)
    return [`${BACKUP_MANIFEST}: larger than ${MAX_MANIFEST_BYTES} bytes`];
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as BackupManifest;
  } catch {
    return [`${BACKUP_MANIFEST}: not JSON (damaged)`];
  }
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest))
    return [`${BACKUP_MANIFEST}: not a manifest`];
  if (manifest.format !== MANIFEST_FORMAT)
    return [
      `${BACKUP_MANIFEST}: format ${String(manifest.format)}, this build checks format ${MANIFEST_FORMAT} (a backup taken before --check existed has no digests to check: take a new one)`,
    ];
  tally.missingBlobs = Array.isArray(manifest.missingBlobs) ? manifest.missingBlobs.length : 0;
  tally.unsealed = Array.isArray(manifest.unsealed) ? manifest.unsealed.length : 0;
  if (manifest.digest !== manifestDigest(manifest))
    problems.push(
      `${BACKUP_MANIFEST}: its digest does not match its content: damaged since the backup (an unkeyed digest: it does not stop a deliberate edit)`,
    );
  const listed = [
    manifest.database,
    manifest.witness,
    ...(Array.isArray(manifest.blobs?.files) ? manifest.blobs.files : []),
    ...(manifest.secretsFile ? [manifest.secretsFile] : []),
  ];
  if (!manifest.database || !manifest.witness || !Array.isArray(manifest.blobs?.files))
    return [...problems, `${BACKUP_MANIFEST}: database, witness or blobs.files missing`];
  for (const list of ['missingBlobs', 'unsealed'] as const)
    if (manifest[list] !== undefined && !Array.isArray(manifest[list]))
      return [...problems, `${BACKUP_MANIFEST}: ${list} is not a list`];
  if (options.env)
    for (const line of storeMacKidProblems(manifest, options.env, tally))
      problem('store-MAC key', line);

  // 2. the files listed, each whole, and nothing else
  const present = new Set(await filesUnder(dir));
  const expected = new Set<string>([BACKUP_MANIFEST]);
  /** The listed paths that are regular files (only these are opened). */
  const regular = new Set<string>();
  for (const file of listed) {
    if (!safePath(file?.path)) {
      problem('unsafe path', `${BACKUP_MANIFEST}: a path outside the backup: ${q(file?.path)}`);
      continue;
    }
    expected.add(file.path);
    if (!present.has(file.path)) {
      problem('missing file', `missing: ${q(file.path)} (listed in the manifest)`);
      continue;
    }
    // never followed nor opened unless a regular file (a symlink leads outside the backup, a
    // FIFO would hang the read), and its size compared before it is read
    const st = await lstat(join(dir, file.path)).catch(() => undefined);
    if (!st?.isFile()) {
      problem('not a file', `${q(file.path)}: not a regular file (a symlink, directory or device)`);
      continue;
    }
    regular.add(file.path);
    if (st.size !== file.bytes) {
      problem(
        'size differs',
        `${q(file.path)}: ${st.size} bytes, the manifest says ${file.bytes} (${st.size < file.bytes ? 'truncated' : 'grown'})`,
      );
      continue;
    }
    const { bytes, sha256 } = await hashOf(join(dir, file.path));
    tally.files++;
    tally.bytes += bytes;
    if (bytes !== file.bytes)
      problem(
        'size differs',
        `${q(file.path)}: ${bytes} bytes, the manifest says ${file.bytes} (${bytes < file.bytes ? 'truncated' : 'grown'})`,
      );
    else if (sha256 !== file.sha256)
      problem(
        'digest differs',
        `${q(file.path)}: its SHA-256 differs from the manifest's (changed)`,
      );
  }
  for (const path of [...present].sort())
    if (!expected.has(path)) problem('unlisted file', `not in the manifest: ${q(path)}`);

  // 3. the database copy, read-only: intact, and the vault files it holds with their blobs
  if (!regular.has(manifest.database.path)) return ended();
  const databaseFile = join(dir, manifest.database.path);
  const sidecars = ['-wal', '-shm', '-journal'].filter((s) => !existsSync(databaseFile + s));
  let db: Database.Database | undefined;
  try {
    db = new Database(databaseFile, { readonly: true, fileMustExist: true });
    const integrity = (db.pragma('integrity_check(20)') as { integrity_check: string }[]).map(
      (r) => r.integrity_check,
    );
    if (integrity.length !== 1 || integrity[0] !== 'ok') {
      problem(
        'integrity',
        `${q(manifest.database.path)}: PRAGMA integrity_check: ${oneLine(integrity.slice(0, 3).join('; '))}`,
      );
      return ended();
    }
    checkBlobs(db, manifest, problem);
    await checkLogs(db, dir, manifest, options, regular, problem, tally);
  } catch (error) {
    problem(
      'database',
      `${q(manifest.database.path)}: not a readable SQLite database (${oneLine((error as Error).message)})`,
    );
  } finally {
    db?.close();
    // opening it may have made SQLite's files beside it: the backup is left as it was
    for (const s of sidecars) await rm(databaseFile + s, { force: true });
  }
  return ended();
}

/**
 * The store-MAC key ids of the manifest (`storeMacKids`: the keys the backup's rows may be tagged
 * under) the configuration does not hold, one line each with what to do: a server restored with
 * it reads those rows (worker devices' block states and events, kiosks, fraud events) tampered,
 * every phone blocked. `tally.storeMacKeys` says what was compared.
 */
export function storeMacKidProblems(
  manifest: BackupManifest,
  env: NodeJS.ProcessEnv,
  tally: CheckTally,
): string[] {
  const recorded = manifest.storeMacKids;
  if (!Array.isArray(recorded) || recorded.length === 0) {
    tally.storeMacKeys = 'not recorded';
    return [];
  }
  const production = env.NODE_ENV === 'production';
  const secretsFile = join(resolve(env.DATA_DIR ?? './data'), SECRETS_FILE);
  const held = storeMacKidsOf(env, production ? {} : readStoredOrNone(secretsFile));
  if (held === undefined) {
    tally.storeMacKeys = 'no configuration';
    return [];
  }
  tally.storeMacKeys = 'compared';
  const where = production ? 'the environment' : `the environment and ${q(secretsFile)}`;
  return recorded
    .filter((kid) => typeof kid === 'string' && !held.includes(kid))
    .map(
      (kid) =>
        `the store-MAC key ${q(kid)} the backup's rows may be tagged under is not held by the current configuration (${where}): a server restored with it reads those worker devices, kiosks and fraud events as tampered (every such phone refused, device_blocked); put that key back into STORE_MAC_RETIRED_KEYS ({"kid":${q(kid)},"key":…} from the backup's secrets.json, or your key store) before starting the restored server`,
    );
}

/** secrets.json's values, or none when there is no such file (or it is unreadable). */
function readStoredOrNone(file: string): Record<string, string> {
  try {
    return existsSync(file) ? readStored(file) : {};
  } catch {
    return {};
  }
}

const has = (db: Database.Database, table: string) =>
  db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !==
  undefined;

/** Each live vault file of the copy has a blob listed, or is named in `missingBlobs`. */
function checkBlobs(
  db: Database.Database,
  manifest: BackupManifest,
  problem: (kind: string, line: string) => void,
): void {
  if (!has(db, 'vault_files')) return;
  const uploads = manifest.layout?.uploadsDir?.path ?? 'uploads';
  const blobs = new Set(manifest.blobs.files.map((f) => f.path));
  const missing = new Set((manifest.missingBlobs ?? []).map((m) => m.fileId));
  const live = new Set<string>();
  for (const { id } of db
    .prepare('SELECT id FROM vault_files WHERE wrapped_key IS NOT NULL')
    .iterate() as IterableIterator<{ id: string }>) {
    live.add(`${uploads}/${id}.mdv`);
    if (!blobs.has(`${uploads}/${id}.mdv`) && !missing.has(id))
      problem(
        'blob not listed',
        `vault file ${q(id)}: live in the database copy, its blob neither listed nor named missing`,
      );
  }
  for (const path of blobs)
    if (!live.has(path)) problem('blob of no file', `${q(path)}: no live vault file in the copy`);
}

/** The witness file's lines, parsed (an unreadable line is a problem). */
async function witnessLines(
  file: string,
  problem: (kind: string, line: string) => void,
): Promise<{ origin: string; size: number; rootHash: string; line: number }[]> {
  const out: { origin: string; size: number; rootHash: string; line: number }[] = [];
  let n = 0;
  const input = createReadStream(file, 'utf8');
  for await (const text of createInterface({ input, crlfDelay: Infinity })) {
    n++;
    try {
      const w = JSON.parse(text) as { origin?: unknown; size?: unknown; rootHash?: unknown };
      if (
        typeof w.origin !== 'string' ||
        !Number.isSafeInteger(w.size) ||
        typeof w.rootHash !== 'string'
      )
        throw new Error('not a checkpoint');
      out.push({ origin: w.origin, size: w.size as number, rootHash: w.rootHash, line: n });
    } catch {
      problem('witness line', `witness file line ${n}: not a checkpoint line`);
    }
  }
  return out;
}

/**
 * Each log of the copy against its latest checkpoint (as verify:log checks an export), and the
 * witness file against the logs.
 */
async function checkLogs(
  db: Database.Database,
  dir: string,
  manifest: BackupManifest,
  options: CheckOptions,
  present: Set<string>,
  problem: (kind: string, line: string) => void,
  tally: CheckTally,
): Promise<void> {
  // the logs the data holds (each site's ledger, the vault audit) and their last seq: one with
  // entries and no checkpoint (no tlog row, or no tlog tables) is vouched for by nothing
  const dataLogs = new Map<string, number>();
  if (has(db, 'attendance_logs'))
    for (const r of db
      .prepare('SELECT site_id AS site, MAX(seq) AS n FROM attendance_logs GROUP BY site_id')
      .iterate() as IterableIterator<{ site: string; n: number }>)
      dataLogs.set(`/ledger/${r.site}`, r.n);
  if (has(db, 'vault_audit')) {
    const n = (
      db.prepare('SELECT COALESCE(MAX(seq), 0) AS n FROM vault_audit').get() as { n: number }
    ).n;
    if (n > 0) dataLogs.set('/vault-audit', n);
  }
  const unvouched = (sealed: ReadonlyMap<string, unknown>) => {
    for (const [suffix, n] of dataLogs)
      if (!sealed.has(suffix) && !namedUnsealed(manifest, suffix))
        problem(
          'no checkpoint',
          `the log ${q(suffix)}: ${n} entries and no stored checkpoint in the copy, not named in the manifest's unsealed: no signed checkpoint vouches for them`,
        );
  };
  if (!has(db, 'tlog_logs') || !has(db, 'tlog_checkpoints')) return unvouched(new Map());
  const logs = db.prepare('SELECT id, origin FROM tlog_logs ORDER BY origin').all() as {
    id: number;
    origin: string;
  }[];
  const latest = db.prepare(
    'SELECT size, root_hash AS rootHash, note FROM tlog_checkpoints WHERE log_id = ? ORDER BY size DESC LIMIT 1',
  );
  const latestOf = new Map(
    logs.map((log) => [
      log.id,
      latest.get(log.id) as { size: number; rootHash: string; note: string } | undefined,
    ]),
  );
  // each log's current row: after a TLOG_ORIGIN change the old origin's row stays, the log's
  // latest checkpoint is the largest of those its rows have (as the backup reckons `unsealed`)
  const current = new Map<string, { id: number; size: number }>();
  for (const log of logs) {
    const suffix = suffixOf(log.origin);
    const size = latestOf.get(log.id)?.size;
    if (suffix === undefined || size === undefined) continue;
    const seen = current.get(suffix);
    if (!seen || size > seen.size) current.set(suffix, { id: log.id, size });
  }
  unvouched(current);
  const witness = present.has(manifest.witness.path)
    ? await witnessLines(join(dir, manifest.witness.path), problem)
    : [];
  tally.witnessLines = witness.length;
  const manifestKeys =
    (manifest.logKeys?.keys ?? []).length > 0 ? JSON.stringify(manifest.logKeys) : undefined;
  /** The manifest's logKeys of an origin; their faults named as theirs (not --key's). */
  const manifestKeysFor = (text: string) => (origin: string) => {
    try {
      return keysOfText(text, origin);
    } catch (error) {
      throw new Error(
        `the manifest's logKeys: ${oneLine((error as Error).message.replace(/^--key:? ?/, ''))}`,
      );
    }
  };
  let keysFor: (origin: string) => GivenKey[];
  /** Where the keys come from, in a problem line. */
  let keysNamed: string;
  if (options.key !== undefined) {
    const key = options.key;
    keysFor = (origin) => givenKeys(key, origin);
    keysNamed = 'the keys --key gives';
  } else if (manifestKeys !== undefined) {
    keysFor = manifestKeysFor(manifestKeys);
    keysNamed = "the manifest's logKeys";
  } else {
    problem(
      'no key',
      'no log key to verify the checkpoints with: the manifest has none, give --key (the /api/v5/tlog/keys answer saved as a file)',
    );
    return;
  }
  const known = new Set(logs.map((l) => l.origin));
  // the witness lines by log (one pass, however many sites)
  const witnessOf = new Map<string, typeof witness>();
  for (const w of witness) {
    const list = witnessOf.get(w.origin);
    if (list) list.push(w);
    else witnessOf.set(w.origin, [w]);
  }
  for (const w of witness)
    if (!known.has(w.origin))
      problem(
        'witness of no log',
        `witness file line ${w.line}: ${q(w.origin)} is no log of the database copy`,
      );
  const atSize = db.prepare(
    'SELECT root_hash AS rootHash FROM tlog_checkpoints WHERE log_id = ? AND size = ?',
  );
  for (const log of logs) {
    const row = latestOf.get(log.id);
    const lines = witnessOf.get(log.origin) ?? [];
    const site = /\/ledger\/([^/]+)$/.exec(log.origin)?.[1];
    const closesOf = /\/payroll-closes\/([^/]+)$/.exec(log.origin)?.[1];
    const isAudit = log.origin.endsWith('/vault-audit');
    if (!row || (!site && !closesOf && !isAudit)) {
      if (lines.length > 0)
        problem(
          'witness of no checkpoint',
          `${q(log.origin)}: witnessed checkpoints but no stored checkpoint in the copy`,
        );
      continue;
    }
    const sizes = new Set(lines.map((w) => w.size));
    let checked;
    try {
      checked = site
        ? await checkLogAgainstCheckpoint(
            LEDGER_EXPORT,
            ledgerLinks(db, site),
            row.note,
            keysFor,
            sizes,
          )
        : closesOf
          ? await checkLogAgainstCheckpoint(
              PAYROLL_CLOSES,
              closeLinks(db, closesOf),
              row.note,
              keysFor,
              sizes,
            )
          : await checkLogAgainstCheckpoint(VAULT_AUDIT, auditLinks(db), row.note, keysFor, sizes);
    } catch (error) {
      problem('log', `${q(log.origin)}: ${oneLine((error as Error).message)}`);
      continue;
    }
    tally.logs++;
    const size = checked.checkpoint.size;
    tally.entries += Math.min(checked.length, size);
    const suffix = suffixOf(log.origin);
    if (
      suffix !== undefined &&
      current.get(suffix)?.id === log.id &&
      checked.length > size &&
      // closes recorded past their seal (a seal failed, the server down before it): not
      // counted in the manifest's unsealed; the server seals them (its unsealed-tail sweep)
      !closesOf &&
      !namedUnsealed(manifest, suffix)
    )
      problem(
        'beyond checkpoint',
        `${q(log.origin)}: ${checked.length - size} entries past its latest checkpoint (size ${size}), not named in the manifest's unsealed: no signed checkpoint vouches for them (added after the backup?)`,
      );
    for (const f of checked.findings) {
      if (f.ok !== false) continue;
      if (f.about === 'signature') {
        problem(
          'signature',
          `${q(log.origin)}: its latest checkpoint (size ${size}) is signed by none of ${keysNamed}${unsignedWhy(options, manifestKeys, log.origin, row.note)}`,
        );
      } else problem('log', `${q(log.origin)}: verify:log FAIL ${oneLine(f.what)}`);
    }
    for (const w of lines) {
      const root = checked.rootsAt.get(w.size);
      if (w.size > checked.length)
        problem(
          'witness',
          `witness file line ${w.line}: ${q(log.origin)} size ${w.size} is beyond the copied log's ${checked.length} entries (tail_cut)`,
        );
      else if (root === undefined || root.toString('hex') !== w.rootHash)
        problem(
          'witness',
          `witness file line ${w.line}: ${q(log.origin)} size ${w.size}: its root is not the copied log's`,
        );
      else {
        const stored = atSize.get(log.id, w.size) as { rootHash: string } | undefined;
        if (stored && stored.rootHash !== w.rootHash)
          problem(
            'witness',
            `witness file line ${w.line}: ${q(log.origin)} size ${w.size} differs from the stored checkpoint`,
          );
      }
    }
  }
}

/**
 * Why a checkpoint signed by none of the keys is, as far as the backup tells: with --key, whether
 * the manifest's logKeys (the keys of the server that made it) sign it.
 */
function unsignedWhy(
  options: CheckOptions,
  manifestKeys: string | undefined,
  origin: string,
  note: string,
): string {
  if (options.key === undefined)
    return ': the keys the backup recorded do not sign its own checkpoints (the manifest or the checkpoints changed since the backup)';
  const parsed = parseNote(note);
  let theirs = false;
  try {
    theirs =
      manifestKeys !== undefined &&
      parsed !== undefined &&
      keysOfText(manifestKeys, origin).some((k) => noteSignedBy(parsed, origin, k.raw));
  } catch {
    // the manifest's keys unreadable: nothing to compare with
  }
  return theirs
    ? ": the manifest's logKeys do (the server's own keys at the backup): --key is not that server's /api/v5/tlog/keys answer, or the server's keys were replaced (not used when --key is given)"
    : " (nor the manifest's logKeys): a checkpoint no key of the server signed";
}

/**
 * A log's origin without its TLOG_ORIGIN: `/ledger/<siteId>`, `/payroll-closes/<siteId>` or
 * `/vault-audit`.
 */
function suffixOf(origin: string): string | undefined {
  const site = /\/(ledger|payroll-closes)\/([^/]+)$/.exec(origin);
  if (site) return `/${site[1]}/${site[2]}`;
  return origin.endsWith('/vault-audit') ? '/vault-audit' : undefined;
}

/** Whether the manifest's `unsealed` names the log (by its origin, or its suffix alone). */
function namedUnsealed(manifest: BackupManifest, suffix: string): boolean {
  return (
    Array.isArray(manifest.unsealed) &&
    manifest.unsealed.some((u) => typeof u?.log === 'string' && u.log.endsWith(suffix))
  );
}

/**
 * A site's ledger in the copy, in seq order, as export lines. A link's data is read as the
 * server's readers read it: a link whose key copies (packet_id, device_id: what the unique key
 * and the duplicate lookup hold, no hash covers them) are not the ones its data names gives a
 * text that hashes to no recordHash (`KEY_COPIES_AGREE`): such a backup fails at that link.
 */
async function* ledgerLinks(db: Database.Database, siteId: string): AsyncGenerator<ExportLine> {
  const rows = db
    .prepare(
      `SELECT site_id, seq, prev_hash, record_hash,
         CASE WHEN ${KEY_COPIES_AGREE} THEN data ELSE '${KEY_COPIES_DISAGREE_TEXT}' END AS data, meta
       FROM attendance_logs WHERE site_id = ? ORDER BY seq`,
    )
    .iterate(siteId) as IterableIterator<{
    site_id: string;
    seq: number;
    prev_hash: string;
    record_hash: string;
    data: string;
    meta: string;
  }>;
  for (const r of rows)
    yield {
      siteId: r.site_id,
      seq: r.seq,
      prevHash: r.prev_hash,
      recordHash: r.record_hash,
      data: JSON.parse(r.data) as unknown,
      meta: JSON.parse(r.meta) as unknown,
    };
}

/**
 * A site's linked payroll closes in the copy, in seq order (closes of an earlier release, not
 * linked yet, seq NULL, are in no log). Read as the server reads a close (its totals parsed).
 */
async function* closeLinks(db: Database.Database, siteId: string): AsyncGenerator<CloseLink> {
  if (!has(db, 'payroll_closes')) return;
  const rows = db
    .prepare('SELECT * FROM payroll_closes WHERE site_id = ? AND seq IS NOT NULL ORDER BY seq')
    .iterate(siteId) as IterableIterator<{
    site_id: string;
    from_day: string;
    to_day: string;
    closed_at: number;
    closed_by: string;
    workers: string;
    seq: number;
    prev: string | null;
  }>;
  for (const r of rows) {
    let data: string;
    try {
      data = closeTagData({
        siteId: r.site_id,
        from: r.from_day,
        to: r.to_day,
        at: r.closed_at,
        by: r.closed_by,
        workers: parseWorkers(r.workers),
        seq: r.seq,
        prev: r.prev ?? '',
      });
    } catch {
      // totals that do not parse: a close whose digest is no one's (the chain breaks here)
      data = `unreadable close ${r.seq}`;
    }
    yield {
      siteId: r.site_id,
      seq: r.seq,
      prevHash: r.prev ? Buffer.from(r.prev, 'base64url').toString('hex') : GENESIS_HASH,
      recordHash: sha256Hex(data),
      data,
    };
  }
}

/** The vault audit of the copy, in seq order. */
async function* auditLinks(db: Database.Database): AsyncGenerator<AuditLink> {
  if (!has(db, 'vault_audit')) return;
  const rows = db.prepare('SELECT * FROM vault_audit ORDER BY seq').iterate() as IterableIterator<{
    seq: number;
    id: string;
    file_id: string;
    actor: string;
    role: string;
    ip: string;
    purpose: string;
    action: VaultAuditEntry['action'];
    result: VaultAuditEntry['result'];
    reason: string | null;
    at: string;
    prev_hash: string;
    record_hash: string;
  }>;
  for (const r of rows)
    yield {
      seq: r.seq,
      prevHash: r.prev_hash,
      recordHash: r.record_hash,
      entry: {
        id: r.id,
        fileId: r.file_id,
        actor: r.actor,
        role: r.role,
        ip: r.ip,
        purpose: r.purpose,
        action: r.action,
        result: r.result,
        reason: r.reason ?? undefined,
        at: new Date(r.at),
      },
    };
}

/** What the OK line says of the store-MAC keys. */
function storeMacNote(tally: CheckTally): string {
  if (tally.storeMacKeys === 'compared')
    return '; the store-MAC keys its rows may be tagged under are held by the current configuration';
  if (tally.storeMacKeys === 'no configuration')
    return '; its store-MAC keys not compared: no STORE_MAC_KEY in the environment or DATA_DIR/secrets.json';
  return '';
}

/** `backup --check <dir> [--key <key>]`: exit 0 when the backup checks out, 2 with gaps, else 1. */
export function backupCheck(args: string[]): void {
  Promise.resolve()
    .then(async () => {
      const options = { ...parseCheckArgs(args), env: process.env };
      const tally = newTally();
      const problems = await checkBackup(options, tally);
      for (const line of problems) process.stderr.write(`problem: ${line}\n`);
      if (problems.length > 0) {
        process.stdout.write(`backup ${options.dir}: FAILED, ${problems.length} problem(s)\n`);
        process.exitCode = 1;
      } else {
        process.stdout.write(
          `backup ${options.dir}: OK (${tally.files} files, ${tally.bytes} bytes, as the manifest says; ` +
            `the database intact; ${tally.logs} logs of ${tally.entries} entries verified against their latest checkpoints; ` +
            `${tally.witnessLines} witness lines agree with them${storeMacNote(tally)})\n`,
        );
        if (tally.missingBlobs > 0 || tally.unsealed > 0) {
          // what the backup itself exited 2 for: whole, but of a store with gaps
          process.stderr.write(
            `warning: the manifest names ${tally.missingBlobs} vault file(s) without their blob (missingBlobs) ` +
              `and ${tally.unsealed} log(s) with entries beyond their last checkpoint (unsealed): ` +
              'the backup exited 2 for them; take it again for one without\n',
          );
          process.exitCode = 2;
        }
      }
    })
    .catch((error: unknown) => {
      process.stderr.write(
        error instanceof ConfigError
          ? `config error: ${oneLine(error.message)}\n`
          : `backup --check failed: ${oneLine((error as Error).message)}\n`,
      );
      process.exit(1);
    });
}
