import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** A SHA-256 digest or HMAC-SHA256 in lowercase hex (64 characters). */
export const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/;

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256(data: string | Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

export function hmacSha256Hex(key: Buffer, data: string | Buffer): string {
  return createHmac('sha256', key).update(data).digest('hex');
}

/** Constant-time equality of two byte strings of any length (length difference leaks only the length). */
export function safeEqual(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) {
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}
