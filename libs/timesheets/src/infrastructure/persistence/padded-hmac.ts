import { hash, timingSafeEqual } from 'node:crypto';

/** SHA-256's block: a key of at most this many bytes is padded, not hashed, by HMAC. */
const BLOCK = 64;

/**
 * HMAC-SHA256 under one key (RFC 2104: SHA256(key ^ opad ‖ SHA256(key ^ ipad ‖ data))), the same
 * bytes `createHmac('sha256', key)` gives, made with two one-shot `crypto.hash` calls over buffers
 * held for the key: its pads written once, the data written after the inner pad in place. A
 * `createHmac` builds a stream object and sets the key up for every tag; the read model tags
 * and checks ~1,000 entries a sync batch under one key (TimesheetSeal).
 */
export class PaddedHmac {
  /** key ^ ipad, then room for the data. */
  private inner: Buffer;
  /** key ^ opad, then the inner digest. */
  private readonly outer = Buffer.alloc(BLOCK + 32);

  constructor(key: Buffer) {
    if (key.length > BLOCK) throw new Error('PaddedHmac takes keys of at most 64 bytes');
    this.inner = PaddedHmac.innerOf(key, 1024);
    for (let i = 0; i < BLOCK; i++) this.outer[i] = (key[i] ?? 0) ^ 0x5c;
  }

  /** base64url(HMAC-SHA256(key, data as UTF-8)), 43 characters (StoreMac.mac's form). */
  mac(data: string): string {
    // a UTF-16 unit is at most 3 bytes of UTF-8: room for the whole text, never a cut one
    if (BLOCK + data.length * 3 > this.inner.length) {
      this.inner = PaddedHmac.grow(this.inner, BLOCK + data.length * 3);
    }
    const n = this.inner.write(data, BLOCK, 'utf8');
    // the inner digest as a 'binary' (latin1) string (its 32 bytes one char each): a string on V8's heap,
    // where a Buffer would be an ArrayBuffer of its own, counted as external memory
    this.outer.write(hash('sha256', this.inner.subarray(0, BLOCK + n), 'binary'), BLOCK, 'latin1');
    return hash('sha256', this.outer, 'base64url');
  }

  /** Whether `tag` is `mac(data)`, compared in constant time (as StoreMac.verify compares). */
  matches(data: string, tag: string): boolean {
    const want = Buffer.from(this.mac(data));
    const got = Buffer.from(tag);
    return got.length === want.length && timingSafeEqual(got, want);
  }

  private static innerOf(key: Buffer, room: number): Buffer {
    const inner = Buffer.alloc(BLOCK + room);
    for (let i = 0; i < BLOCK; i++) inner[i] = (key[i] ?? 0) ^ 0x36;
    return inner;
  }

  private static grow(inner: Buffer, size: number): Buffer {
    const bigger = Buffer.alloc(Math.max(size, inner.length * 2));
    inner.copy(bigger, 0, 0, BLOCK);
    return bigger;
  }
}
