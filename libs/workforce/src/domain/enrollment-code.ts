import { randomBytes } from 'node:crypto';
import { sha256Hex } from '@app/common';

/** Crockford base32: no I, L, O, U, so a code read aloud or typed is not misread. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A new enrollment code: 80 random bits as `XXXX-XXXX-XXXX-XXXX`. */
export function newEnrollmentCode(): string {
  const bytes = randomBytes(10);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.match(/.{4}/g)!.join('-');
}

/** What is stored and looked up: SHA-256 of the code without dashes or case. */
export function enrollmentCodeHash(code: string): string {
  return sha256Hex(`mdai-enrollment|${code.replace(/[\s-]/g, '').toUpperCase()}`);
}
