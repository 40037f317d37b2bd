import { isObjectId } from '@app/common';
import { FraudError } from '../fraud.errors';

/** The keyset cursor of the fraud event listing: base64url of `<ISO at>|<id>` of the last event seen. */
export function encodeEventCursor(last: { at: Date; id: string }): string {
  return Buffer.from(`${last.at.toISOString()}|${last.id}`, 'utf8').toString('base64url');
}

export function decodeEventCursor(cursor: string): { at: Date; id: string } {
  const [iso, id, extra] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const at = new Date(iso ?? '');
  if (
    extra !== undefined ||
    !isObjectId(id) ||
    Number.isNaN(at.getTime()) ||
    at.toISOString() !== iso
  ) {
    throw new FraudError('invalid_cursor', 'cursor is not one this server issued');
  }
  return { at, id };
}
