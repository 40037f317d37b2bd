import { Inject, Injectable, Logger } from '@nestjs/common';
import { createReadStream } from 'node:fs';
import { appendFile, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
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

  constructor(@Inject(tlogConfig.KEY) tlogSettings: TlogSettings) {
    this.file = tlogSettings.witnessFile;
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
    for await (const text of createInterface({ input, crlfDelay: Infinity })) {
      if (text.trim() === '') continue;
      try {
        yield JSON.parse(text) as WitnessLine;
      } catch {
        this.logger.warn('Unreadable witness line skipped');
      }
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
      return { bytes, size };
    } finally {
      await handle.close();
    }
  }
}
