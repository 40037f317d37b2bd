import { isObject } from '../protocol/parse-frame';
import { JsonObject } from '../protocol/messages';
import { MAX_FRAME_DEPTH } from '../protocol/parse-frame';
import { PLATFORM_ID_KEY, PlatformIdMatcher, REDACTED_PLATFORM_ID } from './platform-id-filter';

/** Any platform id (PLATFORM_ID_PATTERN's shape), in any case. */
const ANY_PLATFORM_ID = /plt_[a-z0-9]{10}/i;
const ANY_PLATFORM_ID_ALL = /plt_[a-z0-9]{10,}/gi;
/** The one platform-id key the fielded hardware reads: `data.platform_id`. */
const PLATFORM_ID_FIELD = 'platform_id';
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
  const hardware = role === 'hardware';
  // most frames are short ASCII text holding neither: one precompiled search tells, without
  // lower-casing a copy of the text (what it cannot rule out is searched as below)
  if (ids.surelyClean(text, true, ascii, hardware)) return text;
  const lower = text.toLowerCase();
  // the key pattern is ASCII letters matched in any case: text it matches holds `"platform`
  // once lower-cased, so the regex runs only on text that does (most frames do not)
  const hasIdKey = lower.includes('"platform') && PLATFORM_ID_KEY_IN_TEXT.test(text);
  const anyId = hardware && ANY_PLATFORM_ID.test(text);
  if (!hasIdKey && !anyId && !ids.testLowered(text, lower)) return text;
  const frame: unknown = JSON.parse(text);
  const clean = hardware
    ? forHardware(ids.scrub(frame, alias ?? REDACTED_PLATFORM_ID, false), alias)
    : ids.scrub(frame, REDACTED_PLATFORM_ID, true);
  const cleanText = JSON.stringify(clean);
  return ids.test(cleanText) ? undefined : cleanText;
}

/**
 * The legacy hardware's copy of a frame already scrubbed of the session's ids: as strict as the
 * new-protocol kiosk's. Keys named like a platform id are dropped at any depth but the one the
 * fielded hardware reads, `data.platform_id` holding a string (the alias, once scrubbed); any
 * other platform id (PLT_ and 10 letters or digits, in any case: one the session never held)
 * is replaced in every key and string. The alias is kept.
 */
function forHardware(frame: unknown, alias: string | undefined): unknown {
  return strict(frame, alias, 1, 'data');
}

/** `keep`: the member of this object whose own `platform_id` string is kept (the frame's data). */
function strict(value: unknown, alias: string | undefined, depth: number, keep?: string): unknown {
  if (typeof value === 'string') return withoutIds(value, alias);
  if (value === null || typeof value !== 'object') return value;
  // deeper than any frame may be (MAX_FRAME_DEPTH): nothing of it is passed on
  if (depth > MAX_FRAME_DEPTH) return null;
  if (Array.isArray(value)) return value.map((item) => strict(item, alias, depth + 1));
  const out = Object.create(null) as JsonObject;
  for (const [key, item] of Object.entries(value as JsonObject)) {
    if (keep === PLATFORM_ID_FIELD && key === keep && typeof item === 'string') {
      out[key] = withoutIds(item, alias);
      continue;
    }
    if (PLATFORM_ID_KEY.test(key)) continue;
    const inner = keep === 'data' && key === 'data' ? PLATFORM_ID_FIELD : undefined;
    out[withoutIds(key, alias)] = strict(item, alias, depth + 1, inner);
  }
  return out;
}

/** `text` with every platform id but the alias replaced. */
function withoutIds(text: string, alias: string | undefined): string {
  if (!ANY_PLATFORM_ID.test(text)) return text;
  const parts = alias ? text.split(alias) : [text];
  return parts
    .map((part) => part.replace(ANY_PLATFORM_ID_ALL, REDACTED_PLATFORM_ID))
    .join(alias ?? '');
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
