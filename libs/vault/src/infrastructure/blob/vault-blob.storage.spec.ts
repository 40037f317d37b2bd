import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Logger } from '@nestjs/common';
import { AppSettings, newId } from '@app/common';
import {
  BLOB_HEADER_BYTES,
  BLOB_TAG_BYTES,
  blobBytesAtMost,
  BlobFormatVersion,
  BlobOpener,
  BlobSealer,
  DEFAULT_CHUNK_BYTES,
  V1_CHUNK_BYTES,
} from '../../domain/vault-blob-format';
import { VaultBlobStorage } from './vault-blob.storage';

// node's own `fs` (not an import's copy of its exports): the one whose `read` the storage calls
const fs = jest.requireActual<typeof import('node:fs')>('node:fs');

setFlagsFromString('--expose-gc');
/** A full garbage collection (V8's `gc`, exposed in a fresh context). */
const collect = runInNewContext('gc') as () => void;

describe('VaultBlobStorage reads', () => {
  let dir: string;
  let storage: VaultBlobStorage;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-vault-blobs-'));
    storage = new VaultBlobStorage({ uploadsDir: dir } as AppSettings);
  });

  afterEach(() => {
    jest.restoreAllMocks();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * The file system's reads, counted (the bytes each asked), each given at most the next of
   * `caps` bytes in turn (none: as asked): a network or FUSE file system's short reads.
   */
  function fileReads(caps: number[] = []): number[] {
    const real = fs.read;
    const asked: number[] = [];
    jest.spyOn(fs, 'read').mockImplementation(((
      fd: number,
      buffer: Buffer,
      offset: number,
      length: number,
      position: number,
      callback: (error: NodeJS.ErrnoException | null, bytesRead: number, buffer: Buffer) => void,
    ) => {
      const cap = caps.length > 0 ? caps[asked.length % caps.length] : length;
      asked.push(length);
      real(fd, buffer, offset, Math.min(length, cap), position, callback);
    }) as unknown as typeof fs.read);
    return asked;
  }

  /** Stores `data` as a blob of `version` with `chunkSize` chunks; its file id and key. */
  async function stored(data: Buffer, version: BlobFormatVersion, chunkSize: number) {
    const fileId = newId();
    const key = randomBytes(32);
    const sealer = new BlobSealer(key, fileId, { version, chunkSize });
    async function* blob(): AsyncGenerator<Buffer | Buffer[]> {
      yield sealer.header;
      for (let i = 0; i < data.length; i += 64 * 1024) {
        const records: Buffer[] = [];
        sealer.push(Buffer.from(data.subarray(i, i + 64 * 1024)), records);
        yield records;
      }
      const last: Buffer[] = [];
      summary = sealer.end(last);
      yield last;
    }
    let summary = { size: 0, sha256: '' };
    await storage.write(fileId, blob());
    return { fileId, key, summary: () => summary };
  }

  // the two passes of a read, and a read the hold takes: the buffers are reused between
  // pieces, so the pieces must be whole records and each one consumed before the next-but-one
  for (const [version, chunkSize] of [
    [1, V1_CHUNK_BYTES],
    [2, DEFAULT_CHUNK_BYTES],
    // pieces larger than the first read (the header's and the first piece's, sized for 1 MiB
    // chunks): the first piece is read again from after the header
    [2, 2 * DEFAULT_CHUNK_BYTES],
  ] as const) {
    it(`should give a version ${version} blob as its header, then whole records, each piece opened as it comes`, async () => {
      const data = randomBytes(3 * chunkSize * (version === 1 ? 17 : 1) + 12345);
      const { fileId, key, summary } = await stored(data, version, chunkSize);
      const file = readFileSync(storage.pathOf(fileId));
      const record = chunkSize + BLOB_TAG_BYTES;
      // without a recorded size, with the metadata's, and with sizes too small (a blob longer
      // than its metadata says): the same bytes in the same whole-record pieces
      const bounds = [undefined, data.length, 0, 1000];
      for (const open of bounds.flatMap((bound) => [
        () => ({ pieces: storage.read(fileId, bound), close: async () => undefined }),
        async () => {
          const blob = await storage.open(fileId, bound);
          return { pieces: blob.read(), close: () => blob.close() };
        },
      ])) {
        const { pieces, close } = await open();
        const opener = new BlobOpener(key, fileId, summary());
        const plaintext: Buffer[] = [];
        const seen: Buffer[] = [];
        const lengths: number[] = [];
        for await (const piece of pieces) {
          lengths.push(piece.length);
          seen.push(Buffer.from(piece));
          opener.push(piece, plaintext);
        }
        opener.end(plaintext);
        await close();
        expect(Buffer.concat(seen).equals(file)).toBe(true);
        expect(Buffer.concat(plaintext).equals(data)).toBe(true);
        expect(lengths[0]).toBe(BLOB_HEADER_BYTES);
        expect(lengths.length).toBeGreaterThan(2);
        for (const length of lengths.slice(1, -1)) {
          expect(length % record).toBe(0);
          expect(length).toBeLessThanOrEqual(Math.max(record, 1024 * 1024));
        }
      }
    });
  }
  // the blob is a raw descriptor closed synchronously: a close asked while a read is in flight
  // must wait for it, or the read would run on a closed (or since reused) descriptor number
  it('should end a read in flight before closing the blob, and refuse reads after the close', async () => {
    const data = randomBytes(3 * DEFAULT_CHUNK_BYTES + 777);
    const { fileId } = await stored(data, 2, DEFAULT_CHUNK_BYTES);
    const file = readFileSync(storage.pathOf(fileId));
    for (let round = 0; round < 20; round++) {
      const blob = await storage.open(fileId);
      const pieces = blob.read()[Symbol.asyncIterator]();
      const header = await pieces.next();
      expect(Buffer.from(header.value as Buffer).equals(file.subarray(0, BLOB_HEADER_BYTES))).toBe(
        true,
      );
      await pieces.next();
      // the next piece is read from the file now: the close is asked before it ends
      const inFlight = pieces.next();
      const closed = blob.close();
      const piece = await inFlight;
      const record = DEFAULT_CHUNK_BYTES + BLOB_TAG_BYTES;
      const at = BLOB_HEADER_BYTES + record;
      expect(
        Buffer.from(piece.value as Buffer).equals(
          file.subarray(at, at + (piece.value as Buffer).length),
        ),
      ).toBe(true);
      await closed;
      await expect(pieces.next()).rejects.toThrow();
      await blob.close();
    }
  });
  // NFS, CIFS, FUSE, virtiofs: a read may give fewer bytes than asked before the end of the
  // file; a healthy blob taken as ended there would be refused as cut short (a false alarm)
  it('should read a healthy blob whole when the file system gives it in short reads, and still refuse a truncated one', async () => {
    for (const [version, chunkSize, size] of [
      [2, DEFAULT_CHUNK_BYTES, 5000],
      [2, DEFAULT_CHUNK_BYTES, 64 * 1024],
      [2, DEFAULT_CHUNK_BYTES, 3 * DEFAULT_CHUNK_BYTES + 12345],
      [2, 2 * DEFAULT_CHUNK_BYTES, 2 * DEFAULT_CHUNK_BYTES + 999],
      [1, V1_CHUNK_BYTES, 300 * 1024],
    ] as const) {
      const data = randomBytes(size);
      const { fileId, key, summary } = await stored(data, version, chunkSize);
      const file = readFileSync(storage.pathOf(fileId));
      /** The blob as read with `recorded`, opened: its bytes, or the opener's failure. */
      const readBack = async (recorded?: number) => {
        const opener = new BlobOpener(key, fileId, summary());
        const plaintext: Buffer[] = [];
        const seen: Buffer[] = [];
        try {
          for await (const piece of storage.read(fileId, recorded)) {
            seen.push(Buffer.from(piece));
            opener.push(piece, plaintext);
          }
          opener.end(plaintext);
        } catch (error) {
          return { failure: (error as { failure?: string }).failure };
        }
        return { bytes: Buffer.concat(seen), plaintext: Buffer.concat(plaintext) };
      };
      // the header cut too (a read of 20 bytes), then pieces of a few KiB
      for (const caps of [
        [20, 4096, 70000, 1],
        [1000, 300000],
      ]) {
        for (const recorded of [size, undefined]) {
          fileReads(caps);
          const got = await readBack(recorded);
          jest.restoreAllMocks();
          expect(got.failure).toBeUndefined();
          expect(got.bytes!.equals(file)).toBe(true);
          expect(got.plaintext!.equals(data)).toBe(true);
        }
      }
      // on a local file system a healthy blob of its recorded size is read to its length and no
      // further: one read for a blob smaller than a piece (no read to see 0 bytes)
      const asked = fileReads();
      expect((await readBack(size)).failure).toBeUndefined();
      jest.restoreAllMocks();
      if (size < DEFAULT_CHUNK_BYTES) expect(asked).toHaveLength(1);
      // cut short: refused as now, read in short pieces or not
      truncateSync(storage.pathOf(fileId), file.length - 100);
      for (const caps of [[20, 4096, 70000, 1], []]) {
        fileReads(caps);
        expect((await readBack(size)).failure).toBe('shorter_than_recorded');
        jest.restoreAllMocks();
      }
    }
  });
  // a second close asked while the first waits for a read in flight is the same close: it ends
  // once the descriptor is closed, not at once
  it('should give a second close the wait of the first for a read in flight', async () => {
    const data = randomBytes(3 * DEFAULT_CHUNK_BYTES + 777);
    const { fileId } = await stored(data, 2, DEFAULT_CHUNK_BYTES);
    const closes = jest.spyOn(fs, 'closeSync');
    const blob = await storage.open(fileId, data.length);
    const pieces = blob.read()[Symbol.asyncIterator]();
    await pieces.next();
    await pieces.next();
    // the next piece is read from the file now
    const inFlight = pieces.next();
    const first = blob.close();
    const second = blob.close();
    await second;
    expect(closes).toHaveBeenCalledTimes(1);
    await inFlight;
    await first;
    await blob.close();
    expect(closes).toHaveBeenCalledTimes(1);
    await expect(pieces.next()).rejects.toThrow('blob closed');
  });
  // a raw descriptor is no FileHandle, which closes itself when collected: a blob dropped
  // unclosed (a caller's bug) must not hold its descriptor for good
  it('should close a blob dropped without close() once it is collected, and say so once', async () => {
    const data = randomBytes(3 * DEFAULT_CHUNK_BYTES + 5);
    const { fileId } = await stored(data, 2, DEFAULT_CHUNK_BYTES);
    const opened: number[] = [];
    const realOpen = fs.open;
    jest.spyOn(fs, 'open').mockImplementation(((
      path: string,
      flags: string,
      callback: (error: NodeJS.ErrnoException | null, fd: number) => void,
    ) =>
      realOpen(path, flags, (error, fd) => {
        if (!error) opened.push(fd);
        callback(error, fd);
      })) as unknown as typeof fs.open);
    const closes = jest.spyOn(fs, 'closeSync');
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    // two dropped: one never read, one read in part; one closed and kept (not closed again)
    await (async () => {
      await storage.open(fileId, data.length);
      const blob = await storage.open(fileId, data.length);
      const pieces = blob.read()[Symbol.asyncIterator]();
      await pieces.next();
      await pieces.next();
    })();
    const kept = await storage.open(fileId, data.length);
    await kept.close();
    expect(opened).toHaveLength(3);
    for (let i = 0; i < 200 && closes.mock.calls.length < 3; i++) {
      collect();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(closes.mock.calls.map(([fd]) => fd).sort()).toEqual([...opened].sort());
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toContain('without close()');
    await kept.close();
    expect(closes).toHaveBeenCalledTimes(3);
  });
  it('should read a blob smaller than one piece into a buffer of its expected size, not of a piece', async () => {
    for (const [version, chunkSize, size] of [
      [2, DEFAULT_CHUNK_BYTES, 64 * 1024],
      [2, DEFAULT_CHUNK_BYTES, 5000],
      [1, V1_CHUNK_BYTES, 300 * 1024],
    ] as const) {
      const data = randomBytes(size);
      const { fileId, key, summary } = await stored(data, version, chunkSize);
      const expected = blobBytesAtMost(size)!;
      const opener = new BlobOpener(key, fileId, summary());
      const plaintext: Buffer[] = [];
      const backing: number[] = [];
      for await (const piece of storage.read(fileId, size)) {
        backing.push(piece.buffer.byteLength);
        opener.push(piece, plaintext);
      }
      opener.end(plaintext);
      expect(Buffer.concat(plaintext).equals(data)).toBe(true);
      // the header is a copy; every piece is a view of the one read's buffer
      for (const bytes of backing.slice(1)) expect(bytes).toBeLessThanOrEqual(expected + 1);
    }
  });
});
