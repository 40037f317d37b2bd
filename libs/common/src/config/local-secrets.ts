import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { ConfigError } from './config-error';
import { Env } from './env-schema';
/**
 * What a local install may keep in secrets.json: the secrets generated when unset (each
 * module names its own, e.g. `VAULT_SECRETS`; apps/api composes them) and the key histories
 * `npm run keys:rotate` keeps there (read when present, never required).
 */
export interface LocalSecretsSpec {
  generators: Record<string, () => string>;
  histories: string[];
  /** What to do about a secret missing in production, said after its reason (never a value). */
  hints?: Record<string, string>;
  /**
   * A file of DATA_DIR whose presence means values sealed or signed with `secrets` may be stored
   * (the SQLite store), and those secrets: with the file there, no secrets.json, and not one of
   * them set, nothing is generated (a store restored without its keys). One of them set (an
   * install that keeps them in its environment, an upgrade that adds one) is no such store.
   */
  guardedBy?: { file: string; secrets: string[] };
}

export interface LocalSecretsResult {
  env: Env;
  file: string;
  generated: string[];
}

export const SECRETS_FILE = 'secrets.json';

/**
 * Fills in missing secrets outside production from `<DATA_DIR>/secrets.json` (mode 0600),
 * generating and saving the ones that are not there yet. Production never generates: missing
 * secrets stop the boot with a ConfigError naming each of them.
 */
export function withLocalSecrets(
  env: Env,
  dataDir: string,
  production: boolean,
  { generators, histories: storedHistories, guardedBy, hints }: LocalSecretsSpec,
  /**
   * Called under the file's lock with what is stored and the names generated now (only when
   * one was), before the file is written: what else the same write must hold.
   */
  amend?: (stored: Record<string, string>, generated: string[]) => void,
): LocalSecretsResult {
  const file = join(dataDir, SECRETS_FILE);
  const missing = Object.keys(generators).filter((name) => !env[name]);
  const histories = production ? [] : storedHistories.filter((name) => !env[name]);
  if (missing.length === 0 && histories.length === 0) return { env, file, generated: [] };
  if (missing.length > 0 && production) {
    throw new ConfigError(
      missing.map((variable) => ({
        variable,
        reason: `is required when NODE_ENV=production (nothing is generated in production)${
          hints?.[variable] ? `: ${hints[variable]}` : ''
        }`,
      })),
    );
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const generated: string[] = [];
  const fillIn = (stored: Record<string, string>): boolean => {
    refuseStoreWithoutSecrets(dataDir, env, stored, guardedBy);
    for (const name of missing) {
      if (!stored[name]) {
        const value = generators[name]();
        if (value === '') continue;
        stored[name] = value;
        generated.push(name);
      }
    }
    if (generated.length > 0) amend?.(stored, generated);
    return generated.length > 0;
  };
  let stored = readStored(file);
  // review L-8: generating is a read-modify-write of the file another process (a second start
  // on this DATA_DIR, keys:rotate) may be doing too: under the file's lock, on what it holds then
  if (missing.some((name) => !stored[name])) stored = updateStored(file, fillIn);
  else fillIn(stored);
  const merged: Env = { ...env };
  for (const name of [...missing, ...histories]) if (stored[name]) merged[name] = stored[name];
  if (missing.length === 0 && histories.every((name) => !stored[name])) {
    return { env, file, generated: [] };
  }
  return { env: merged, file, generated };
}

/**
 * A store restored without its secrets.json (a backup taken with --without-secrets), or one
 * whose secrets.json was removed: new keys would boot "fine" and every value sealed before
 * would fail its integrity check, while new ones are sealed under another key of the same
 * name, never to be told apart.
 */
function refuseStoreWithoutSecrets(
  dataDir: string,
  env: Env,
  stored: Record<string, string>,
  guardedBy: LocalSecretsSpec['guardedBy'],
): void {
  const keysOfStore = guardedBy?.secrets.filter((name) => !env[name] && !stored[name]) ?? [];
  if (
    guardedBy !== undefined &&
    keysOfStore.length === guardedBy.secrets.length &&
    Object.keys(stored).length === 0 &&
    existsSync(join(dataDir, guardedBy.file))
  ) {
    throw new ConfigError(
      'DATA_DIR',
      `${dataDir} holds a store (${guardedBy.file}) but no ${SECRETS_FILE}, and none of the keys its values were sealed and signed with is set (${keysOfStore.join(', ')}): they would be generated anew. Put back the ${SECRETS_FILE} this store was made with (for a backup taken with --without-secrets, the one kept apart from it), or set those variables; to start a new store instead, move ${guardedBy.file} aside`,
    );
  }
}

export function readStored(file: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ConfigError('DATA_DIR', `cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      return parsed as Record<string, string>;
    }
  } catch {
    // fall through
  }
  throw new ConfigError('DATA_DIR', `${file} is not a JSON object; fix or remove it`);
}

/**
 * Writes the values atomically: a file of its own beside `file` (mode 0600), flushed, renamed
 * over it, the directory flushed; a reader sees the old file or the new one, never a part.
 * A read-modify-write goes through `updateStored`, which holds the file's lock.
 */
export function writeStored(file: string, values: Record<string, string>): void {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeFileSync(fd, JSON.stringify(values, null, 2) + '\n');
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    unlinkSync(tmp);
    throw error;
  }
  closeSync(fd);
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  const dir = openSync(dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** How long a process waits for secrets.json's lock before it gives up (a ConfigError). */
export const SECRETS_LOCK_WAIT_MS = 15_000;
/**
 * A lock older than this is stale whoever holds it: the work under it (read, generate a few
 * keys, write) takes milliseconds; a holder stopped in it (SIGSTOP, a debugger) longer than
 * this loses it.
 */
export const SECRETS_LOCK_STALE_MS = 60_000;

/**
 * Review L-8: a read-modify-write of secrets.json (the first start generating secrets into
 * it, keys:rotate outside production) under the file's lock, `<file>.lock`, made with O_EXCL:
 * `update` gets what the file holds once the lock is ours and says whether it changed it;
 * then the file is written atomically (`writeStored`) and the lock removed. Another process
 * doing the same waits for it (up to SECRETS_LOCK_WAIT_MS), so neither write is lost. A lock
 * left by a process that died (its pid gone on this host) or older than SECRETS_LOCK_STALE_MS
 * is taken over. Returns the values as written (or as read, unchanged).
 */
export function updateStored(
  file: string,
  update: (stored: Record<string, string>) => boolean,
): Record<string, string> {
  const lock = `${file}.lock`;
  const mine = takeLock(lock);
  try {
    const stored = readStored(file);
    if (update(stored)) writeStored(file, stored);
    return stored;
  } finally {
    releaseLock(lock, mine);
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** Takes `lock` (O_EXCL), waiting while a live holder has it; returns what it wrote there. */
function takeLock(lock: string): string {
  const boot = bootId();
  const mine = `${hostname()} ${process.pid} ${randomBytes(6).toString('hex')}${boot ? ` ${boot}` : ''}\n`;
  const deadline = Date.now() + SECRETS_LOCK_WAIT_MS;
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      try {
        writeFileSync(fd, mine);
      } finally {
        closeSync(fd);
      }
      return mine;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new ConfigError('DATA_DIR', `cannot make ${lock}: ${(error as Error).message}`);
      }
    }
    const holder = readHolder(lock);
    // a break file held by another breaker: waits its turn as for a live holder
    if (holder !== undefined && isStale(lock, holder) && breakLock(lock, holder)) continue;
    if (Date.now() >= deadline) {
      throw new ConfigError(
        'DATA_DIR',
        `${lock} is held (by ${holder?.trim() || 'an unknown process'}: host and pid) and was not released within ${SECRETS_LOCK_WAIT_MS / 1000} s; another mdai process is writing ${SECRETS_FILE}: try again, or remove the lock file if no such process runs`,
      );
    }
    sleepSync(pause);
  }
}

/**
 * This boot of the host (Linux: /proc/sys/kernel/random/boot_id), undefined where none is
 * readable: a lock written under another boot names a pid of a process gone with that boot.
 */
function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** What a lock file says (host, pid, a nonce, the boot when known); undefined when it is gone already. */
function readHolder(lock: string): string | undefined {
  try {
    return readFileSync(lock, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function isStale(lock: string, holder: string): boolean {
  let age: number;
  try {
    age = Date.now() - statSync(lock).mtimeMs;
  } catch {
    return false; // gone: the next attempt takes it
  }
  if (age > SECRETS_LOCK_STALE_MS) return true;
  const [host, pid, , boot] = holder.trim().split(' ');
  // an empty file: its maker is between open and write (or died there: the age covers it)
  if (host !== hostname() || !/^\d+$/.test(pid ?? '')) return false;
  // review LOW-4: this process's pid with another nonce was left by an earlier process that
  // had the pid (pid 1 of a container restarted under the same hostname): this one is not
  // holding it, takeLock not being re-entrant (and the process being one thread), so it is
  // stale; and a pid of another boot of the host names no process of this one
  if (Number(pid) === process.pid) return true;
  const ours = bootId();
  if (boot !== undefined && ours !== undefined && boot !== ours) return true;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** A breaker's `<lock>.break` older than this was left by a breaker that died in its few syscalls. */
export const SECRETS_LOCK_BREAK_STALE_MS = 10_000;

/**
 * Removes a stale lock, and only that one. Breakers take turns (review LOW-5): each holds
 * `<lock>.break` (O_EXCL) while it re-reads the lock, and breaks it only if it still holds what
 * this breaker found stale; one that finds the break file held leaves the lock to its holder
 * and retries (takeLock's loop). Before, two breakers that had both read one stale lock could
 * drop a live one: the first removed the stale lock and a process took it, the second moved
 * that live lock aside, a third took the lock meanwhile, and the second, unable to link the
 * live lock back, removed it. The lock is still renamed aside and checked: a holder stopped
 * past the stale age that resumes releases its own lock, and another may take it, between the
 * re-read and the rename. Returns false, touching nothing, while another breaker has its turn.
 * Exported for its spec.
 */
export function breakLock(lock: string, stale: string): boolean {
  const turn = `${lock}.break`;
  try {
    closeSync(openSync(turn, 'wx', 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    try {
      // a breaker that died holding it: removed; the next attempt takes it
      if (Date.now() - statSync(turn).mtimeMs > SECRETS_LOCK_BREAK_STALE_MS) unlinkSync(turn);
    } catch {
      // gone already
    }
    return false;
  }
  try {
    if (readHolder(lock) !== stale) return true; // broken by another breaker, or released
    const aside = `${lock}.${process.pid}.${randomBytes(6).toString('hex')}.stale`;
    try {
      renameSync(lock, aside);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
      throw error;
    }
    if (readHolder(aside) !== stale) {
      try {
        linkSync(aside, lock);
      } catch {
        // another process took the lock between the rename and the link: the live lock moved
        // aside is lost and two processes hold the lock. Only a holder stopped past the stale
        // age that resumed, released and was followed by two takers in these few syscalls
        // gets here (breakers take turns)
      }
    }
    unlinkSync(aside);
    return true;
  } finally {
    try {
      unlinkSync(turn);
    } catch {
      // removed as stale by another breaker after this one stopped past its age
    }
  }
}

/** Removes the lock if it is still this process's (a takeover after a long stop left it not). */
function releaseLock(lock: string, mine: string): void {
  if (readHolder(lock) === mine) unlinkSync(lock);
}
