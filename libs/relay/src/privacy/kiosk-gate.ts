import { PLATFORM_ID_IN_TEXT } from '@app/session';
import { isObject } from '../protocol/parse-frame';
import { JsonObject } from '../protocol/messages';
import { MAX_FRAME_DEPTH } from '../protocol/parse-frame';
import { PLATFORM_ID_KEY, PlatformIdMatcher, REDACTED_PLATFORM_ID } from './platform-id-filter';

/** Any platform id (PLATFORM_ID_PATTERN's shape), in any case: one the session never held too. */
const ANY_PLATFORM_ID = PLATFORM_ID_IN_TEXT;
const ANY_PLATFORM_ID_ALL = new RegExp(PLATFORM_ID_IN_TEXT.source, 'gi');
/** The one platform-id key the fielded hardware reads: `data.platform_id`. */
const PLATFORM_ID_FIELD = 'platform_id';
/** A JSON key that names a platform id, in frame text. */
const PLATFORM_ID_KEY_IN_TEXT = /"platform[_-]?id"\s*:/i;
/** The fields of an upstream answer a kiosk may see, and how long each may be. */
const ANSWER_FIELDS = ['status', 'code', 'message'] as const;
const MAX_ANSWER_FIELD = 256;

export type KioskRole = 'device' | 'hardware';

/**
 * The last gate before a kiosk socket, both protocols', for frame text already serialized once.
 * Fast path: text that holds no platform id of the session (any case or encoding), no
 * platform-id-shaped text (`PLT_…`, one the session never held included: an upstream answer may
 * name another user) and no platform-id key goes out as is. Otherwise the frame is scrubbed
 * (legacy hardware keeps `data.platform_id` and sees the session's alias in place of the id; the
 * new-protocol kiosk loses every platform-id key), every other platform-id-shaped text is
 * replaced, and the text is checked once more; a frame that would still carry one of the
 * session's ids is dropped (undefined).
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
  // most frames are short ASCII text holding neither: `surelyClean` tells (what it cannot
  // rule out is searched as below)
  if (ids.surelyClean(text, true, ascii, true)) return text;
  const lower = text.toLowerCase();
  // the key pattern is ASCII letters matched in any case: text it matches holds `"platform`
  // once lower-cased, so the regex runs only on text that does (most frames do not)
  const hasIdKey = lower.includes('"platform') && PLATFORM_ID_KEY_IN_TEXT.test(text);
  const anyId = ANY_PLATFORM_ID.test(text);
  if (!hasIdKey && !anyId && !ids.testLowered(text, lower)) return text;
  const frame: unknown = JSON.parse(text);
  const clean = hardware
    ? forHardware(ids.scrub(frame, alias ?? REDACTED_PLATFORM_ID, false), alias)
    : strict(ids.scrub(frame, REDACTED_PLATFORM_ID, true), undefined, 1);
  const cleanText = JSON.stringify(clean);
  return ids.test(cleanText) ? undefined : cleanText;
}

/**
 * The legacy hardware's copy of a frame already scrubbed of the session's ids: as strict as the
 * new-protocol kiosk's. Keys named like a platform id are dropped at any depth but the one the
 * fielded hardware reads, `data.platform_id` holding a string (the alias, once scrubbed); any
 * other platform id is replaced in every key and string (`strict`). The alias is kept.
 */
function forHardware(frame: unknown, alias: string | undefined): unknown {
  return strict(frame, alias, 1, 'data');
}

/**
 * A copy without platform ids, for either kiosk: keys named like a platform id dropped at any
 * depth, every platform-id-shaped text (PLATFORM_ID_IN_TEXT: PLT_ and 10 or more letters or
 * digits, in any case; one the session never held too) replaced in every key and string, but
 * the session's alias (legacy). `keep`: the member of this object whose own `platform_id`
 * string is kept (the legacy frame's data; the new-protocol kiosk keeps none).
 */
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
/** A platform-id-shaped tail (PLATFORM_ID_IN_TEXT's letters, however few) at the end of a text. */
const ID_TAIL = new RegExp(`${PLATFORM_ID_IN_TEXT.source.replace(/\{\d+,\}$/, '*')}$`, 'i');

/** `text` cut to MAX_ANSWER_FIELD characters, without the part of an id the cut went through. */
function bounded(text: string): string {
  if (text.length <= MAX_ANSWER_FIELD) return text;
  return text.slice(0, MAX_ANSWER_FIELD).replace(ID_TAIL, '');
}

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
 * unless it is in one of these fields (and then the gate still scrubs it, the session's id into
 * the legacy alias). A field cut to its bound loses a platform id the cut went through whole
 * (`PLT_…` at the end of the cut): the gate could not recognise a part of one.
 */
export function kioskCopyOfAnswer(data: unknown): JsonObject {
  const out: JsonObject = {};
  if (!isObject(data)) return out;
  for (const field of ANSWER_FIELDS) {
    const value = data[field];
    if (typeof value === 'number' && Number.isFinite(value)) out[field] = value;
    else if (typeof value === 'string') out[field] = bounded(value);
  }
  return out;
}
