import { isObject } from '../protocol/parse-frame';
import { JsonObject } from '../protocol/messages';
import { PlatformIdMatcher, REDACTED_PLATFORM_ID } from './platform-id-filter';

/** A JSON key that names a platform id, in frame text. */
const PLATFORM_ID_KEY_IN_TEXT = /"platform[_-]?id"\s*:/i;
/** The fields of an upstream answer a kiosk may see, and how long each may be. */
const ANSWER_FIELDS = ['status', 'code', 'message'] as const;
const MAX_ANSWER_FIELD = 256;

export type KioskRole = 'device' | 'hardware';

/**
 * The last gate before a kiosk socket, for frame text already serialized once. Fast path: text
 * that holds no platform id of the session (any case or encoding) and, for /ws/device, no
 * platform-id key goes out as is. Otherwise the frame is scrubbed (legacy hardware keeps its key
 * names and sees the session's alias in place of the id; the new-protocol kiosk loses the keys)
 * and checked once more; a frame that would still carry an id is dropped (undefined).
 * `ascii`: the caller knows every character of `text` is ASCII (a scan that looked at each one,
 * SerializedFrame.ascii); it spares the screen that search, never any other.
 */
export function gateKioskText(
  text: string,
  role: KioskRole,
  ids: PlatformIdMatcher,
  alias: string | undefined,
  ascii = false,
): string | undefined {
  // most frames are short ASCII text holding neither: one precompiled search tells, without
  // lower-casing a copy of the text (what it cannot rule out is searched as below)
  if (ids.surelyClean(text, role === 'device', ascii)) return text;
  const lower = text.toLowerCase();
  // the key pattern is ASCII letters matched in any case: text it matches holds `"platform`
  // once lower-cased, so the regex runs only on text that does (most frames do not)
  const hasIdKey =
    role === 'device' && lower.includes('"platform') && PLATFORM_ID_KEY_IN_TEXT.test(text);
  if (!hasIdKey && !ids.testLowered(text, lower)) return text;
  const frame: unknown = JSON.parse(text);
  const clean =
    role === 'hardware'
      ? ids.scrub(frame, alias ?? REDACTED_PLATFORM_ID, false)
      : ids.scrub(frame, REDACTED_PLATFORM_ID, true);
  const cleanText = JSON.stringify(clean);
  return ids.test(cleanText) ? undefined : cleanText;
}

/**
 * The kiosk's copy of an upstream answer: only `status`, `code` and `message` (strings or
 * numbers, bounded), never the raw body, so nothing the upstream echoes back reaches the kiosk
 * unless it is in one of these fields (and then the gate still scrubs it).
 */
export function kioskCopyOfAnswer(data: unknown): JsonObject {
  const out: JsonObject = {};
  if (!isObject(data)) return out;
  for (const field of ANSWER_FIELDS) {
    const value = data[field];
    if (typeof value === 'number' && Number.isFinite(value)) out[field] = value;
    else if (typeof value === 'string') out[field] = value.slice(0, MAX_ANSWER_FIELD);
  }
  return out;
}
