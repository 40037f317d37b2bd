import { randomBytes } from 'node:crypto';
import { EnrollmentCode } from './workforce';

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

/**
 * What the code's stored hash is a keyed MAC of (StoreMac 'enrollment-code'): the code without
 * spaces, dashes or case. Keyed, so someone who writes the store but holds no secret cannot
 * store a code of their own (it was a plain SHA-256: a row inserted with the hash of a code the
 * editor chose enrolled a phone as any worker or thekedar).
 */
export function enrollmentCodeData(code: string): string {
  return `mdai-enrollment|${code.replace(/[\s-]/g, '').toUpperCase()}`;
}

/**
 * What an enrollment's tag covers (StoreMac 'enrollment-binding'): the code, its person, its
 * expiry and whether it was spent (when, by which device), so a spent code set back to unused
 * in the database does not verify; the server's own spend and give-back write a new tag.
 */
export function enrollmentBindingData(
  e: Pick<
    EnrollmentCode,
    'codeHash' | 'personKind' | 'personId' | 'expiresAt' | 'usedAt' | 'usedByDeviceId'
  >,
): string {
  return JSON.stringify([
    'enrollment/v1',
    e.codeHash,
    e.personKind,
    e.personId,
    e.expiresAt.getTime(),
    e.usedAt?.getTime() ?? null,
    e.usedByDeviceId ?? null,
  ]);
}
