import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { createReadStream } from 'node:fs';
import { appendFile, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Counter, MetricsRegistry } from '@app/common';
import { SignedCheckpoint } from './domain/checkpoint';
import { tlogConfig, TlogSettings } from './tlog.config';

/** One line of the witness file. */
export interface WitnessLine {
  origin: string;
  size: number;
  rootHash: string;
  signedAt: string;
  note: string;
}

const MAX_READ_BYTES = 1024 * 1024;
/** What the index reads of the file at once (then the event loop turns). */
const INDEX_CHUNK_BYTES = 1024 * 1024;

/**
 * The witness file: every checkpoint the server signs is appended to a file outside the
 * store (NDJSON, one checkpoint per line), so deleting or rewriting checkpoint rows in the
 * database does not erase what was signed. Monitors read it through the API and compare.
 */
@Injectable()
export class WitnessLog {
  private readonly logger = new Logger(WitnessLog.name);
  readonly file: string;
  private ready?: Promise<void>;
  /**
   * The index: per log, its latest witnessed line (the largest size; of equal sizes the later
   * line), from one pass over the file (`indexed`), then kept up to date by this process's own
   * appends and by reading only the bytes appended since (`catchUp`: another replica's lines).
   */
  private readonly heads = new Map<string, WitnessLine>();
  /** The file's bytes the index has read (up to its last whole line), and the file it read. */
  private indexedTo = 0;
  private indexedFile?: { dev: number; ino: number };
  /** The index's first pass (started at start-up, or by its first use). */
  private firstPass?: Promise<void>;
  /** The index's reads, one after another. */
  private reading: Promise<void> = Promise.resolve();
  /** The witness file's bytes read by this process (the index, verify, start-up, monitors). */
  private bytesReadTotal = 0;
  private readonly bytesCounter: Counter;

  constructor(
    @Inject(tlogConfig.KEY) tlogSettings: TlogSettings,
    @Optional() metrics?: MetricsRegistry,
  ) {
    this.file = tlogSettings.witnessFile;
    this.bytesCounter = new Counter({
      name: 'mdai_tlog_witness_read_bytes_total',
      help: "Bytes of the witness file read by this process: the index of every log's latest witnessed checkpoint (one pass at start-up, then only the bytes appended since), verify, the start-up recovery's tail, monitors' reads",
      registers: metrics ? [metrics] : [],
    });
  }

  /** The witness file's bytes this process has read (`mdai_tlog_witness_read_bytes_total`). */
  get bytesRead(): number {
    return this.bytesReadTotal;
  }

  private counted(bytes: number): void {
    this.bytesReadTotal += bytes;
    this.bytesCounter.inc(bytes);
  }

  /**
   * Starts the index's one pass over the file in the background (at start-up, off any
   * request's path): what `headOf` and `indexedHeadOf` wait for at most once.
   */
  warm(): Promise<void> {
    this.firstPass ??= this.catchUp().catch((error: unknown) => {
      this.firstPass = undefined; // tried again by the next use
      throw error;
    });
    return this.firstPass;
  }

  /**
   * The latest witnessed line of `origin` (its largest size) as the file holds it now: the
   * index, after its one pass, brought up to date by reading the bytes appended since it last
   * read (none when only this process appended: its own lines are indexed as it writes them).
   * Never a scan of the whole file per call (review closewit).
   */
  async headOf(origin: string): Promise<WitnessLine | undefined> {
    await this.warm();
    await this.catchUp();
    return this.heads.get(origin);
  }

  /**
   * The latest witnessed line of `origin` as indexed (the first pass, this process's appends,
   * the bytes read by the last `headOf`): no file access after the first pass, for reads that
   * take a witnessed head as a lower bound.
   */
  async indexedHeadOf(origin: string): Promise<WitnessLine | undefined> {
    await this.warm();
    return this.heads.get(origin);
  }

  private index(line: WitnessLine): void {
    if (typeof line.origin !== 'string' || !Number.isSafeInteger(line.size)) return;
    const known = this.heads.get(line.origin);
    if (!known || line.size >= known.size) this.heads.set(line.origin, line);
  }

  /** Reads into the index the file's bytes past what it read (one read at a time). */
  private catchUp(): Promise<void> {
    const run = this.reading.catch(() => undefined).then(() => this.readNew());
    this.reading = run;
    return run;
  }

  private async readNew(): Promise<void> {
    let handle;
    try {
      handle = await open(this.file, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    try {
      const stat = await handle.stat();
      const same =
        this.indexedFile?.dev === stat.dev &&
        this.indexedFile.ino === stat.ino &&
        stat.size >= this.indexedTo;
      if (!same) {
        // another file in its place (restored from a backup), or cut: indexed again from its start
        if (this.indexedFile) {
          this.logger.warn('The witness file was replaced or cut: indexed again from its start');
          this.heads.clear();
        }
        this.indexedFile = { dev: stat.dev, ino: stat.ino };
        this.indexedTo = 0;
      }
      let at = this.indexedTo;
      let carry = Buffer.alloc(0);
      while (at < stat.size) {
        const chunk = Buffer.alloc(Math.min(INDEX_CHUNK_BYTES, stat.size - at));
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, at);
        if (bytesRead === 0) break;
        this.counted(bytesRead);
        at += bytesRead;
        const bytes = Buffer.concat([carry, chunk.subarray(0, bytesRead)]);
        const end = bytes.lastIndexOf(0x0a) + 1;
        // after the last newline: a line not whole yet (being written, or a crash's), read again
        carry = bytes.subarray(end);
        for (const line of bytes.toString('utf8', 0, end).split('\n')) {
          if (line.trim() === '') continue;
          try {
            this.index(JSON.parse(line) as WitnessLine);
          } catch {
            this.logger.warn('Unreadable witness line skipped');
          }
        }
        this.indexedTo = at - carry.length;
        if (at < stat.size) await yieldToLoop();
      }
    } finally {
      await handle.close();
    }
  }

  async append(checkpoint: SignedCheckpoint): Promise<void> {
    this.ready ??= mkdir(dirname(this.file), { recursive: true }).then(
      () => undefined,
      (error: unknown) => {
        this.ready = undefined; // try again next time: the disk may be fixed by then
        throw error;
      },
    );
    await this.ready;
    const line: WitnessLine = {
      origin: checkpoint.origin,
      size: checkpoint.size,
      rootHash: checkpoint.rootHash,
      signedAt: checkpoint.signedAt.toISOString(),
      note: checkpoint.note,
    };
    await appendFile(this.file, `${JSON.stringify(line)}\n`, { mode: 0o644 });
    // indexed as written: read again by the next catch-up (harmless: the largest size wins)
    this.index(line);
  }

  /** The witnessed checkpoints of one log, in file order. */
  async *linesOf(origin: string): AsyncGenerator<WitnessLine> {
    for await (const line of this.lines()) if (line.origin === origin) yield line;
  }

  async *lines(): AsyncGenerator<WitnessLine> {
    const input = createReadStream(this.file, { encoding: 'utf8' });
    try {
      await new Promise<void>((resolve, reject) => {
        input.once('open', () => resolve());
        input.once('error', reject);
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    try {
      for await (const text of createInterface({ input, crlfDelay: Infinity })) {
        if (text.trim() === '') continue;
        try {
          yield JSON.parse(text) as WitnessLine;
        } catch {
          this.logger.warn('Unreadable witness line skipped');
        }
      }
    } finally {
      this.counted(input.bytesRead);
      input.destroy();
    }
  }

  /**
   * The whole lines among the file's last `bytes` bytes, in file order (a line cut by the
   * window's start, or left half-written by a crash, is skipped): where the checkpoints of
   * the seals in flight at a crash are.
   */
  async tail(bytes: number): Promise<WitnessLine[]> {
    let handle;
    try {
      handle = await open(this.file, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    let text: string;
    let cut: boolean;
    try {
      const { size } = await handle.stat();
      const from = Math.max(0, size - bytes);
      const window = Buffer.alloc(size - from);
      if (window.length > 0) await handle.read(window, 0, window.length, from);
      this.counted(window.length);
      text = window.toString('utf8');
      cut = from > 0;
    } finally {
      await handle.close();
    }
    const lines = text.split('\n');
    if (cut) lines.shift();
    lines.pop(); // after the last newline: nothing, or a line a crash left unfinished
    const out: WitnessLine[] = [];
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        out.push(JSON.parse(line) as WitnessLine);
      } catch {
        this.logger.warn('Unreadable witness line skipped');
      }
    }
    return out;
  }

  /** Raw bytes from `offset` (at most 1 MiB), for monitors that tail the file. */
  async read(offset: number): Promise<{ bytes: Buffer; size: number }> {
    let handle;
    try {
      handle = await open(this.file, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return { bytes: Buffer.alloc(0), size: 0 };
      }
      throw error;
    }
    try {
      const { size } = await handle.stat();
      const length = Math.max(0, Math.min(MAX_READ_BYTES, size - offset));
      const bytes = Buffer.alloc(length);
      if (length > 0) await handle.read(bytes, 0, length, offset);
      this.counted(length);
      return { bytes, size };
    } finally {
      await handle.close();
    }
  }
}
