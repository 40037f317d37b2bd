import { createHash, hash, timingSafeEqual } from 'node:crypto';

/** SHA-256's block: a longer key is hashed first, a shorter one padded (RFC 2104). */
const BLOCK = 64;
const HEX_DIGEST = /^[0-9a-f]{64}$/;

/**
 * HMAC-SHA256 under one key for many short texts (RFC 2104: SHA256(K ^ opad ‖ SHA256(K ^ ipad ‖
 * data))), the same bytes `createHmac('sha256', key)` gives: the key's two pads written once
 * into held buffers, each text written after the inner pad in place, and two one-shot
 * `crypto.hash` calls (Node ≥ 20.12, package.json's `engines`). `createHmac` builds a stream
 * object and sets the key up again for every text (~2.5 µs of a packet's check, which is one HMAC
 * of a ~250-byte text; the timesheet read model tags and checks ~1,000 entries a sync batch under
 * one key). Only the pads are kept, not the key. Not shared across threads (its buffers are reused
 * by every call).
 */
export class HmacSha256Key {
  /** K ^ ipad, then room for the text. */
  private inner: Buffer;
  /** K ^ opad, then the inner digest. */
  private readonly outer = Buffer.alloc(BLOCK + 32);
  /** A digest's and a claimed digest's 64 hex characters, for the constant-time compare. */
  private readonly want = Buffer.alloc(64);
  private readonly got = Buffer.alloc(64);

  constructor(key: Buffer) {
    const k = key.length > BLOCK ? createHash('sha256').update(key).digest() : key;
    this.inner = Buffer.alloc(BLOCK + 1024);
    for (let i = 0; i < BLOCK; i++) {
      this.inner[i] = (k[i] ?? 0) ^ 0x36;
      this.outer[i] = (k[i] ?? 0) ^ 0x5c;
    }
  }

  /** HMAC-SHA256(key, data as UTF-8) in lowercase hex. */
  hex(data: string): string {
    return this.digest(data, 'hex');
  }

  /** HMAC-SHA256(key, data as UTF-8) in base64url (`StoreMac.mac`'s form, 43 characters). */
  base64url(data: string): string {
    return this.digest(data, 'base64url');
  }

  private digest(data: string, encoding: 'hex' | 'base64url'): string {
    // a UTF-16 unit is at most 3 bytes of UTF-8: room for the whole text, never a cut one
    if (BLOCK + data.length * 3 > this.inner.length) {
      const bigger = Buffer.alloc(Math.max(BLOCK + data.length * 3, this.inner.length * 2));
      this.inner.copy(bigger, 0, 0, BLOCK);
      this.inner = bigger;
    }
    const n = this.inner.write(data, BLOCK, 'utf8');
    // the inner digest as a latin1 string (one character a byte): no Buffer of its own
    this.outer.write(hash('sha256', this.inner.subarray(0, BLOCK + n), 'binary'), BLOCK, 'latin1');
    return hash('sha256', this.outer, encoding);
  }

  /**
   * Whether `hexDigest` is `hex(data)`, compared in constant time. Anything but 64 lowercase hex
   * characters is false (its form is public: a packet with one is refused by its shape first).
   */
  matchesHex(data: string, hexDigest: string): boolean {
    const digest = this.hex(data);
    if (!HEX_DIGEST.test(hexDigest)) return false;
    this.want.write(digest, 0, 'latin1');
    this.got.write(hexDigest, 0, 'latin1');
    const same = timingSafeEqual(this.want, this.got);
    // the expected digest is not left in the held buffer after the call
    this.want.fill(0);
    return same;
  }

  /**
   * Whether `tag` is `base64url(data)` (a StoreMac tag), compared in constant time as
   * `StoreMac.verify` compares: a tag of another length is false.
   */
  matchesBase64url(data: string, tag: string): boolean {
    const want = Buffer.from(this.base64url(data));
    const got = Buffer.from(tag);
    return got.length === want.length && timingSafeEqual(got, want);
  }
}
