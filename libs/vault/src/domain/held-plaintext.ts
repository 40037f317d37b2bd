import { releaseBuffers } from './release-buffers';

/** Plaintext bytes this process's reads hold at once, up to a limit (VAULT_READ_HOLD_BYTES). */
export class ReadHold {
  private held = 0;

  constructor(private readonly limit: number) {}

  /**
   * Reserves `bytes` for one read: false when they do not fit what is left, when the hold is
   * off (0), or for a size that is no byte count (an edited row: the read's check refuses it).
   */
  take(bytes: number): boolean {
    if (this.limit === 0 || !Number.isSafeInteger(bytes) || bytes < 0) return false;
    if (bytes > this.limit - this.held) return false;
    this.held += bytes;
    return true;
  }

  give(bytes: number): void {
    this.held -= bytes;
  }

  /** Bytes reserved now. */
  get bytes(): number {
    return this.held;
  }
}

const SENT = Buffer.alloc(0);

/**
 * A read's plaintext served from memory: the chunks its check already decrypted and
 * authenticated, so the blob is read and decrypted once. The read's reservation goes back to
 * the `ReadHold` as each chunk is handed out, and in full when the reader stops early:
 * `return()` wipes the chunks not handed out, as for a read refused after its check.
 * `Readable.from` calls it when the response is destroyed, even before the first chunk (a
 * generator's `finally` would not run then, and the reservation would be lost). Handed-out
 * chunks are not wiped: a socket may still be writing them.
 */
export class HeldPlaintext implements AsyncIterableIterator<Buffer> {
  /** The read's authenticated chunks, pushed by its check's pass before anything is served. */
  readonly chunks: Buffer[] = [];
  private served = 0;

  /** `reserved`: the bytes the read took from `hold` (its file's size). */
  constructor(
    private readonly hold: ReadHold,
    private reserved: number,
  ) {}

  async next(): Promise<IteratorResult<Buffer, undefined>> {
    if (this.served >= this.chunks.length) {
      this.release();
      return { done: true, value: undefined };
    }
    const chunk = this.chunks[this.served];
    // the reader has it now: this read no longer holds it
    this.chunks[this.served++] = SENT;
    const given = Math.min(this.reserved, chunk.length);
    this.reserved -= given;
    this.hold.give(given);
    return { done: false, value: chunk };
  }

  async return(): Promise<IteratorResult<Buffer, undefined>> {
    const wiped = this.chunks.slice(this.served);
    for (; this.served < this.chunks.length; this.served++) {
      this.chunks[this.served].fill(0);
      this.chunks[this.served] = SENT;
    }
    // the decipher's own buffers, no other view of them: freed now (`releaseBuffers`)
    releaseBuffers(wiped);
    this.release();
    return { done: true, value: undefined };
  }

  async throw(error: unknown): Promise<IteratorResult<Buffer, undefined>> {
    await this.return();
    throw error;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private release(): void {
    this.hold.give(this.reserved);
    this.reserved = 0;
  }
}
