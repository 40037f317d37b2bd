import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  readlinkSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  chmodSync,
  utimesSync,
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
    // again from the start when updateStored does it over (its lock lost before the write)
    generated.length = 0;
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
    // a secrets.json there but empty (`{}`: truncated, or written by hand) is not "no file"
    const present = existsSync(join(dataDir, SECRETS_FILE));
    const what = present
      ? `a ${SECRETS_FILE} that holds no key (an empty object)`
      : `no ${SECRETS_FILE}`;
    throw new ConfigError(
      'DATA_DIR',
      `${dataDir} holds a store (${guardedBy.file}) but ${what}, and none of the keys its values were sealed and signed with is set (${keysOfStore.join(', ')}): they would be generated anew. Put back the ${SECRETS_FILE} this store was made with (for a backup taken with --without-secrets, the one kept apart from it), or set those variables; to start a new store instead, move ${guardedBy.file} aside`,
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
 * A read-modify-write goes through `updateStored`, which holds the file's lock and gives
 * `stillHeld`: asked right before the rename; false leaves `file` as it is (the new file
 * removed) and returns false.
 */
export function writeStored(
  file: string,
  values: Record<string, string>,
  stillHeld?: () => boolean,
): boolean {
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
  if (stillHeld && !stillHeld()) {
    unlinkSync(tmp);
    return false;
  }
  renameSync(tmp, file);
  const dir = openSync(dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
  return true;
}

/** How long a process waits for secrets.json's lock before it gives up (a ConfigError). */
export const SECRETS_LOCK_WAIT_MS = 15_000;
/**
 * A lock whose file was not touched for this long is stale whoever holds it: the work under it
 * (read, generate a few keys, write) takes milliseconds, and its holder touches the file again
 * right before its write. Shorter than SECRETS_LOCK_WAIT_MS: a lock left by a process whose pid
 * cannot be checked (another pid namespace or boot, another host) is taken over within the
 * wait; one whose pid is alive only past SECRETS_LOCK_LIVE_STALE_MS. A holder stopped in its work (SIGSTOP, a debugger) longer than this loses the lock,
 * finds so before its rename, and does its read-modify-write again under a new lock.
 */
export const SECRETS_LOCK_STALE_MS = 10_000;
/**
 * The stale age of a lock whose holder's pid could be checked and is alive (`isStale`): one at
 * work keeps it, a stopped one (or a pid reused since its holder died) loses it past this age.
 * Longer than SECRETS_LOCK_WAIT_MS: a process waiting on such a holder gives up (a ConfigError)
 * unless the lock was that old already when it came.
 */
export const SECRETS_LOCK_LIVE_STALE_MS = 60_000;
/** How many times `updateStored` takes the lock again after it lost it before its write. */
export const SECRETS_LOCK_TRIES = 3;

/**
 * Review L-8: a read-modify-write of secrets.json (the first start generating secrets into
 * it, keys:rotate outside production) under the file's lock, `<file>.lock`, made with O_EXCL:
 * `update` gets what the file holds once the lock is ours and says whether it changed it;
 * then the file is written atomically (`writeStored`) and the lock removed. Another process
 * doing the same waits for it (up to SECRETS_LOCK_WAIT_MS), so neither write is lost. A lock
 * whose holder is gone, or untouched for SECRETS_LOCK_STALE_MS (SECRETS_LOCK_LIVE_STALE_MS when
 * its holder's pid is checked and alive), is taken over (`isStale`).
 * Right before its rename the holder reads the lock again: taken over meanwhile (this process
 * stopped past the stale age, and another wrote the file since), nothing is written, and the
 * whole read-modify-write is done again under a new lock, on what the file holds then (`update`
 * is called again), up to SECRETS_LOCK_TRIES times. Returns the values as written (or as read,
 * unchanged).
 */
export function updateStored(
  file: string,
  update: (stored: Record<string, string>) => boolean,
): Record<string, string> {
  const lock = `${file}.lock`;
  for (let attempt = 1; ; attempt++) {
    const mine = takeLock(lock);
    try {
      const stored = readStored(file);
      if (!update(stored)) return stored;
      if (writeStored(file, stored, () => holdOn(lock, mine))) return stored;
    } finally {
      releaseLock(lock, mine);
    }
    if (attempt >= SECRETS_LOCK_TRIES) {
      throw new ConfigError(
        'DATA_DIR',
        `${file} was not written: this process lost its lock (${lock}) before its write ${SECRETS_LOCK_TRIES} times, each time stopped longer than ${SECRETS_LOCK_STALE_MS / 1000} s while holding it (another process took the lock over and may have written the file); nothing was changed by this process: try again`,
      );
    }
  }
}

/**
 * Whether `lock` still says `mine`; if so its file is touched, so that its age counts from the
 * write about to happen (a holder that took long to get here is not taken for a dead one).
 * What says it is held is the re-read, not the touch: a DATA_DIR mount refusing utimes
 * (EPERM, ENOTSUP) still holds it (before, every write there was done again and failed with a
 * ConfigError saying the lock was lost); only ENOENT (removed since the read: taken over and
 * released) says it is not.
 */
function holdOn(lock: string, mine: string): boolean {
  if (readHolder(lock) !== mine) return false;
  const now = new Date();
  try {
    utimesSync(lock, now, now);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    // not touched: its age counts from when it was taken, still ours as read above
  }
  return true;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/** Takes `lock` (O_EXCL), waiting while a live holder has it; returns what it wrote there. */
function takeLock(lock: string): string {
  const { boot, ns } = pidSpace();
  // host, pid, a nonce, the boot and the pid namespace ("-" where unknown)
  const mine = `${hostname()} ${process.pid} ${randomBytes(6).toString('hex')} ${boot ?? '-'} ${ns ?? '-'}\n`;
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
 * Where this process's pid names it: this boot of the kernel (Linux:
 * /proc/sys/kernel/random/boot_id, new at each boot of each host) and its pid namespace (the
 * inode of /proc/self/ns/pid, e.g. `pid:[4026531836]`: the same inode in two containers of one
 * kernel is one namespace, and of two kernels says nothing, hence the boot). Each undefined
 * where it is not readable.
 */
function pidSpace(): { boot?: string; ns?: string } {
  const read = (f: () => string): string | undefined => {
    try {
      return f().trim() || undefined;
    } catch {
      return undefined;
    }
  };
  return {
    boot: read(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')),
    ns: read(() => readlinkSync('/proc/self/ns/pid')),
  };
}

/** What a lock file says (host, pid, nonce, boot, pid namespace); undefined when it is gone already. */
function readHolder(lock: string): string | undefined {
  try {
    return readFileSync(lock, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Whether the lock `holder` was read from may be taken over. `here`: this process's pid space
 * (`pidSpace()`; given by its spec to act as a system without /proc). Exported for its spec.
 */
export function isStale(lock: string, holder: string, here = pidSpace()): boolean {
  let age: number;
  try {
    age = Date.now() - statSync(lock).mtimeMs;
  } catch {
    return false; // gone: the next attempt takes it
  }
  const [host, pid, , boot = '-', ns = '-'] = holder.trim().split(' ');
  // A pid names a process only in its pid namespace of one boot of one kernel: it is checked
  // only where the lock's boot and namespace are both this process's. Elsewhere (two containers
  // of one hostname sharing DATA_DIR, both pid 1; another host; a lock of an older version)
  // only the age says it is stale. An empty file: its maker is between open and write (or died
  // there: the age covers it). Review L3: where neither this process nor the lock's maker could
  // read /proc (macOS), the pid is checked on the same hostname, as before pid spaces.
  const samePidSpace =
    here.boot !== undefined && here.ns !== undefined
      ? boot === here.boot && ns === here.ns
      : here.boot === undefined &&
        here.ns === undefined &&
        boot === '-' &&
        ns === '-' &&
        host === hostname();
  if (!samePidSpace || !/^\d+$/.test(pid ?? '')) return age > SECRETS_LOCK_STALE_MS;
  // review LOW-4: this process's pid with another nonce was left by an earlier process of this
  // namespace that had the pid: this one is not holding it, takeLock not being re-entrant (and
  // the process being one thread), so it is stale
  if (Number(pid) === process.pid) return true;
  try {
    process.kill(Number(pid), 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return true;
  }
  // review M3: a live holder whose pid could be checked is not stale at the age of one that
  // cannot (before, it was taken over after SECRETS_LOCK_STALE_MS at work): only past
  // SECRETS_LOCK_LIVE_STALE_MS (stopped, or its pid reused by another process since it died)
  return age > SECRETS_LOCK_LIVE_STALE_MS;
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
