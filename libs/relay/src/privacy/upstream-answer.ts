import { redactSecrets } from '@app/common';

/** What stands in for a face image the upstream echoed back. */
export const REMOVED_IMAGE = '[image removed]';
/** A member whose name says it holds an image (`image`, `image_base64`, `faceImage`, …). */
const IMAGE_KEY = /image/i;
/**
 * The base64 of an image the relay accepts (face-submission.service.ts: a JPEG or a PNG, sent
 * upstream as standard base64): a JPEG's begins `/9j/` (FF D8 FF), a PNG's `iVBORw0KGgo` (its
 * 8-byte signature), optionally after a `data:image/…;base64,` head; the run of base64
 * characters (and line breaks) from there is the image.
 */
const IMAGE_BASE64 = /(?:data:image\/[a-z+.-]+;base64,)?(?:\/9j\/|iVBORw0KGgo)[A-Za-z0-9+/=\r\n]*/g;
/** The start of IMAGE_BASE64, for a quick look before the replace. */
const MAY_HOLD_IMAGE = /\/9j\/|iVBORw0KGgo/;

/**
 * The clients' copy of an upstream answer's body (the phone's `result.data`, the legacy app's
 * `backend_response.data`, and the outcome a session keeps for a phone that comes back; the
 * kiosks' copies are cut from it): the body as the upstream wrote it, except that
 * - a member whose name says image is left out, and any base64 JPEG/PNG inside a string is
 *   replaced with `[image removed]`: the face image goes to the upstream and the Vault only,
 *   never back to a client;
 * - every configured secret (`registerSecrets`: UPSTREAM_API_KEY, the API keys, the JWT
 *   secret, the store MAC and vault keys) is replaced wherever it occurs, in keys and strings.
 * The body is already bounded in depth (UpstreamClient); this keeps that depth.
 */
export function clientCopyOfAnswer(data: unknown): unknown {
  if (typeof data === 'string') return cleanString(data);
  if (data === null || typeof data !== 'object') return data;
  if (Array.isArray(data)) return data.map(clientCopyOfAnswer);
  // null prototype: a "__proto__" key from JSON.parse stays a plain key
  const out = Object.create(null) as Record<string, unknown>;
  for (const [key, item] of Object.entries(data as Record<string, unknown>)) {
    if (IMAGE_KEY.test(key)) continue;
    out[cleanString(key)] = clientCopyOfAnswer(item);
  }
  return out;
}

function cleanString(text: string): string {
  const out = redactSecrets(text);
  return MAY_HOLD_IMAGE.test(out) ? out.replace(IMAGE_BASE64, REMOVED_IMAGE) : out;
}
