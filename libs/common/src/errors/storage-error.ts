import { CommonError } from './common.errors';

const FULL = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);
const UNAVAILABLE = new Set([
  'EACCES',
  'EPERM',
  'EROFS',
  'EIO',
  'ENOTDIR',
  'SQLITE_READONLY',
  'SQLITE_CANTOPEN',
  'SQLITE_IOERR',
  'SQLITE_PERM',
  // the file's write lock held past busy_timeout (another connection's long write)
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
]);

/** The message of a 503 `storage_unavailable` whose failed write changed nothing. */
export const STORAGE_UNAVAILABLE_MESSAGE =
  'The server cannot write to its storage right now; nothing was changed. Try again later.';

/**
 * A file-system or SQLite failure of the local storage as the error a client should see:
 * no space (ENOSPC, EDQUOT, SQLITE_FULL) → 507 `storage_full`; no access or a failing device
 * (EACCES, EROFS, EIO, ENOTDIR, SQLite read-only / I/O errors, its write lock still held after
 * `busy_timeout`) → 503 `storage_unavailable`. Anything
 * else → undefined. Messages name the condition, never a path, and say nothing was changed: a
 * caller whose failure leaves a change behind answers its own code instead (provisioning's
 * `challenge_spent_unreleased`, when a spent challenge cannot be given back).
 */
export function storageErrorOf(error: unknown): CommonError | undefined {
  const code = errorCode(error);
  if (!code) return undefined;
  if (FULL.has(code) || code.startsWith('SQLITE_FULL')) {
    return new CommonError(
      'storage_full',
      'The server has no storage space left for this write; nothing was changed. Try again later.',
    );
  }
  if (UNAVAILABLE.has(code) || [...UNAVAILABLE].some((c) => code.startsWith(`${c}_`))) {
    return new CommonError('storage_unavailable', STORAGE_UNAVAILABLE_MESSAGE);
  }
  return undefined;
}

function errorCode(error: unknown): string | undefined {
  for (const e of causes(error)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** An error and the errors it wraps (`cause`), four deep at most: where a driver's error sits. */
function* causes(error: unknown): Generator<object> {
  let current: unknown = error;
  for (let i = 0; i < 4 && current && typeof current === 'object'; i++) {
    yield current;
    current = (current as { cause?: unknown }).cause;
  }
}

/**
 * The MongoDB driver's and mongoose's errors for a database that cannot be reached or does
 * not answer (no server selectable, a network error or timeout, a pool cleared under an
 * operation, commands buffered while disconnected): matched by name, so this module does not
 * load the driver.
 */
const UNREACHABLE_STORE = new Set([
  'MongoServerSelectionError',
  'MongooseServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoPoolClearedError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoServerClosedError',
  // a pool closed as its server left the topology, a client closed under a request (shutdown),
  // an operation or a wait for a connection past the URI's timeoutMS / waitQueueTimeoutMS, a
  // pool cleared by a network error (named on its own, without a cause at times)
  'MongoPoolClosedError',
  'MongoClientClosedError',
  'MongoOperationTimeoutError',
  'MongoWaitQueueTimeoutError',
  'PoolClearedOnNetworkError',
  // a hash-chained append that lost every one of its tries to other writers (libs/tlog's
  // appendWithRetry): the store is too busy right now, the batch can be sent again
  'ChainAppendContendedError',
]);

/** A store that cannot be reached, as the 503 a client should see; anything else → undefined. */
export function storeUnavailableOf(error: unknown): CommonError | undefined {
  for (const e of causes(error)) {
    const { name, message } = e as { name?: unknown; message?: unknown };
    const buffered =
      name === 'MongooseError' &&
      typeof message === 'string' &&
      /buffering timed out/.test(message);
    if ((typeof name === 'string' && UNREACHABLE_STORE.has(name)) || buffered) {
      return new CommonError(
        'store_unavailable',
        'The database does not answer right now. Try again later.',
      );
    }
  }
  return undefined;
}

/** The errors of a write the database itself refused, by name (no driver is loaded here). */
const DATABASE_REFUSALS = new Set([
  'SqliteError',
  'WorkerTaskError(SqliteError)',
  'MongoServerError',
  'MongoBulkWriteError',
  'MongoWriteConcernError',
]);

/**
 * A write the database refused (SQLite's constraint or trigger, a SQLite error met on the
 * append thread, MongoDB's write or write-concern error), matched by name or by a `SQLITE_`
 * code, on the error or what it wraps: a failure of the store, not of the server's own code
 * (a TypeError, a plain Error), which stays a 500.
 */
export function isDatabaseRefusal(error: unknown): boolean {
  for (const e of causes(error)) {
    const { name, code } = e as { name?: unknown; code?: unknown };
    if (typeof name === 'string' && DATABASE_REFUSALS.has(name)) return true;
    if (typeof code === 'string' && code.startsWith('SQLITE_')) return true;
  }
  return false;
}

/**
 * The store's answer to a failed write when the failure is the store's: a storage code
 * (`storageErrorOf`), a MongoDB that does not answer (`storeUnavailableOf`), or a write the
 * database refused (`isDatabaseRefusal`: SQLite's constraint or trigger, MongoDB's write
 * error). Anything else (a bug) → undefined: a 500.
 */
export function storeFailureOf(error: unknown): CommonError | undefined {
  return (
    storageErrorOf(error) ??
    storeUnavailableOf(error) ??
    (isDatabaseRefusal(error)
      ? new CommonError('storage_unavailable', STORAGE_UNAVAILABLE_MESSAGE)
      : undefined)
  );
}
