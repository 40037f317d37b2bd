import { createHmac } from 'node:crypto';

/**
 * The tag StoreMac.mac gives, from a key of StoreMac.keyFor (usable in a worker thread). In a
 * file of its own that imports nothing else, so a worker's script that computes tags does not
 * load the tlog module's config and Nest with it.
 */
export function storeMacWith(key: Buffer, data: string | Buffer): string {
  return createHmac('sha256', key).update(data).digest('base64url');
}
