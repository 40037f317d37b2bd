import { closeSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';

/** The wal-index format this reader knows (`iVersion` of its header): SQLite's since 3.7.0. */
const WAL_INDEX_VERSION = 3007000;
/** The first copy of the wal-index header: the bytes read. */
const HEADER_BYTES = 48;

/**
 * The frames in a database's WAL now, read from the first copy of the wal-index header at the
 * start of its `-shm` file (SQLite's documented "WAL-index format": `iVersion` at byte 0,
 * `isInit` at byte 12, `mxFrame` at byte 16, all in the machine's byte order). Every connection
 * of every process on the file shares this memory, so its format does not change between
 * SQLite versions; a header this reader does not recognise reads as unknown.
 *
 * A plain read, no lock: a commit under way may be seen before or after its frames (the writer
 * updates the header after them), which is all a pacing decision needs. One `pread` of 48
 * bytes: a couple of microseconds.
 */
export class WalIndexHeader {
  private readonly buffer = Buffer.alloc(HEADER_BYTES);
  private readonly little = endianness() === 'LE';
  private fd?: number;
  private failed = false;

  constructor(private readonly databasePath: string) {}

  /** `mxFrame`: the WAL's frames now (0 right after it started over); undefined if unknown. */
  frames(): number | undefined {
    if (this.failed) return undefined;
    try {
      // opened on first use: the -shm file exists once a connection has opened the WAL
      this.fd ??= openSync(`${this.databasePath}-shm`, 'r');
      if (readSync(this.fd, this.buffer, 0, HEADER_BYTES, 0) < HEADER_BYTES) return undefined;
    } catch {
      // no -shm file (an exclusive locking mode keeps the wal-index in memory): never again
      this.failed = true;
      this.close();
      return undefined;
    }
    const u32 = (at: number) =>
      this.little ? this.buffer.readUInt32LE(at) : this.buffer.readUInt32BE(at);
    if (u32(0) !== WAL_INDEX_VERSION || this.buffer[12] !== 1) return undefined;
    return u32(16);
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}
