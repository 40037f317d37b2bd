import { closeSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';

/** The wal-index format this reader knows (`iVersion` of its header): SQLite's since 3.7.0. */
const WAL_INDEX_VERSION = 3007000;
/** The wal-index header's two copies (48 bytes each), then `nBackfill`: the bytes read. */
const HEADER_BYTES = 100;

/** The WAL now, as the wal-index header counts it. */
export interface WalIndexFrames {
  /** `mxFrame`: frames in the WAL (0 right after it started over). */
  frames: number;
  /** `nBackfill`: of those, frames already copied into the database file. */
  backfilled: number;
  /**
   * The header's first salt (`aSalt[0]`): SQLite changes it each time the WAL starts over, so
   * a different salt means the frames were all written since, however many there are.
   */
  salt: number;
}

/**
 * The frames in a database's WAL now, and how many of them are copied, read from the start of
 * its `-shm` file (SQLite's documented "WAL-index format": the header's first copy with
 * `iVersion` at byte 0, `isInit` at byte 12, `mxFrame` at byte 16 and `aSalt` at 32, then
 * the checkpoint information's `nBackfill` at byte 96, all in the machine's byte order). Every
 * connection of every process on the file shares this memory, so its format does not change
 * between SQLite versions; a header this reader does not recognise reads as unknown.
 *
 * A plain read, no lock: a commit under way may be seen before or after its frames (the writer
 * updates the header after them), which is all a pacing decision needs; the two copies of the
 * header differing (a write under way) reads as unknown. One `pread` of 100 bytes: a couple of
 * microseconds.
 *
 * Its file stays open until `close()`, which only the store calls, after its last connection
 * closed: closing any descriptor of a file releases every POSIX lock the process holds on it,
 * SQLite's own on the `-shm` file included, and another process would then rebuild the
 * wal-index under this one's connections.
 */
export class WalIndexHeader {
  private readonly buffer = Buffer.alloc(HEADER_BYTES);
  private readonly little = endianness() === 'LE';
  private fd?: number;
  private failed = false;

  constructor(private readonly databasePath: string) {}

  /** The WAL's frames now; undefined if unknown. */
  read(): WalIndexFrames | undefined {
    if (this.failed) return undefined;
    try {
      // opened on first use: the -shm file exists once a connection has opened the WAL
      this.fd ??= openSync(`${this.databasePath}-shm`, 'r');
      if (readSync(this.fd, this.buffer, 0, HEADER_BYTES, 0) < HEADER_BYTES) return undefined;
    } catch (error) {
      // no -shm file yet: perhaps later; any other error: never again (the descriptor, if any,
      // stays open: see above)
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.failed = true;
      return undefined;
    }
    const u32 = (at: number) =>
      this.little ? this.buffer.readUInt32LE(at) : this.buffer.readUInt32BE(at);
    if (u32(0) !== WAL_INDEX_VERSION || this.buffer[12] !== 1) return undefined;
    // the first copy is written after the second: a write under way, read again next time
    if (!this.buffer.subarray(0, 48).equals(this.buffer.subarray(48, 96))) return undefined;
    return { frames: u32(16), backfilled: u32(96), salt: u32(32) };
  }

  /** `mxFrame`: the WAL's frames now (0 right after it started over); undefined if unknown. */
  frames(): number | undefined {
    return this.read()?.frames;
  }

  /** Only once no connection of this process has the file open (see above). */
  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}
