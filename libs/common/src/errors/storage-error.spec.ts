import { isDatabaseRefusal, storageErrorOf, storeUnavailableOf } from './storage-error';

const sys = (code: string) => Object.assign(new Error(`${code}: something`), { code });

describe('storageErrorOf', () => {
  it('should map no-space conditions to storage_full (507, see the status table)', () => {
    for (const code of ['ENOSPC', 'EDQUOT', 'SQLITE_FULL']) {
      const sut = storageErrorOf(sys(code));
      expect([code, sut?.module, sut?.code]).toEqual([code, 'common', 'storage_full']);
    }
  });

  it('should map access and device failures to storage_unavailable (503)', () => {
    for (const code of [
      'EACCES',
      'EPERM',
      'EROFS',
      'EIO',
      'SQLITE_READONLY',
      'SQLITE_READONLY_DBMOVED',
      'SQLITE_IOERR_WRITE',
      'SQLITE_CANTOPEN',
      'SQLITE_BUSY',
      'SQLITE_BUSY_SNAPSHOT',
      'SQLITE_LOCKED',
    ]) {
      const sut = storageErrorOf(sys(code));
      expect([code, sut?.module, sut?.code]).toEqual([code, 'common', 'storage_unavailable']);
    }
  });

  it('should find the code of a wrapped cause and leave other errors alone', () => {
    expect(storageErrorOf(new Error('outer', { cause: sys('ENOSPC') }))?.code).toBe('storage_full');
    expect(storageErrorOf(sys('ECONNRESET'))).toBeUndefined();
    expect(storageErrorOf(sys('SQLITE_CONSTRAINT_UNIQUE'))).toBeUndefined();
    expect(storageErrorOf('nope')).toBeUndefined();
  });

  it('should never put a path in the message', () => {
    const error = Object.assign(new Error("ENOSPC: no space, write '/data/secret/x'"), {
      code: 'ENOSPC',
    });
    expect(storageErrorOf(error)?.message).not.toContain('/data');
  });
});

describe('storeUnavailableOf', () => {
  const named = (name: string, message = 'connection <monitor> to 10.0.0.5:27017 timed out') =>
    Object.assign(new Error(message), { name });

  it('should map the driver errors of a database that cannot be reached to store_unavailable', () => {
    for (const name of [
      'MongoServerSelectionError',
      'MongooseServerSelectionError',
      'MongoNetworkError',
      'MongoNetworkTimeoutError',
      'MongoPoolClearedError',
      'MongoNotConnectedError',
      'MongoPoolClosedError',
      'MongoClientClosedError',
      'MongoOperationTimeoutError',
      'MongoWaitQueueTimeoutError',
      'PoolClearedOnNetworkError',
      'ChainAppendContendedError',
    ]) {
      expect([name, storeUnavailableOf(named(name))?.code]).toEqual([name, 'store_unavailable']);
    }
    const buffered = named(
      'MongooseError',
      'Operation `kiosks.find()` buffering timed out after 10000ms',
    );
    expect(storeUnavailableOf(buffered)?.code).toBe('store_unavailable');
    const wrapped = new Error('outer', { cause: named('MongoNetworkError') });
    expect(storeUnavailableOf(wrapped)?.code).toBe('store_unavailable');
  });

  it('should leave other errors alone and never name a host in the message', () => {
    expect(storeUnavailableOf(named('MongoServerError', 'E11000 duplicate key'))).toBeUndefined();
    expect(storeUnavailableOf(named('MongooseError', 'Cast to ObjectId failed'))).toBeUndefined();
    expect(storeUnavailableOf(new Error('nope'))).toBeUndefined();
    expect(storeUnavailableOf(named('MongoNetworkError'))?.message).not.toContain('10.0.0.5');
  });
});

describe('isDatabaseRefusal', () => {
  const named = (name: string, code?: string) => Object.assign(new Error('x'), { name, code });

  it("should know the database's refusals, on the error or what it wraps", () => {
    expect(isDatabaseRefusal(named('SqliteError', 'SQLITE_CONSTRAINT_TRIGGER'))).toBe(true);
    expect(isDatabaseRefusal(named('WorkerTaskError(SqliteError)'))).toBe(true);
    expect(isDatabaseRefusal(named('MongoServerError'))).toBe(true);
    expect(isDatabaseRefusal(named('MongoBulkWriteError'))).toBe(true);
    expect(isDatabaseRefusal(new Error('wrapped', { cause: named('MongoServerError') }))).toBe(
      true,
    );
    expect(isDatabaseRefusal(named('WorkerTaskError(Error)', 'SQLITE_CONSTRAINT_UNIQUE'))).toBe(
      true,
    );
  });

  it("should not take the server's own errors for the database's", () => {
    expect(isDatabaseRefusal(new TypeError('bug'))).toBe(false);
    expect(isDatabaseRefusal(new Error('Ledger append refused: entry 0 of 1'))).toBe(false);
    expect(isDatabaseRefusal(named('WorkerTaskError(TypeError)'))).toBe(false);
    expect(isDatabaseRefusal(undefined)).toBe(false);
  });
});
