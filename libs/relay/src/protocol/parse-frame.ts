import { BodyPipelineError, DEFAULT_JSON_LIMITS, parseJsonText } from '@app/common';
import { scanCanonicalObject } from './canonical-json';
import { deeperThan, isObject } from './fields';
import { checkFields } from './message';
import { EVERY_SOCKET, InboundFrame, messagesOn, RelayRole } from './messages';
import type { AnyMessageDef } from './message';

export { isObject } from './fields';

/**
 * How deep a frame may nest objects and arrays (the frame itself is level 1): the REST bodies'
 * bound. Deeper text could not be written back out (JSON.stringify overflows its stack).
 */
export const MAX_FRAME_DEPTH = DEFAULT_JSON_LIMITS.maxDepth;

/**
 * The REST bodies' JSON checks, with the frame's own bounds: its depth, and no string bound (a
 * submission's image is one string; the frame's size bounds it).
 */
const FRAME_JSON_LIMITS = {
  ...DEFAULT_JSON_LIMITS,
  maxDepth: MAX_FRAME_DEPTH,
  maxStringLength: Number.MAX_SAFE_INTEGER,
};

/** What each refusal of the JSON scan is as a frame error. */
const FRAME_REFUSALS: Partial<Record<string, { code: FrameRefusalCode; message: string }>> = {
  json_too_deep: {
    code: 'invalid_message',
    message: `The frame nests objects and arrays deeper than ${MAX_FRAME_DEPTH} levels`,
  },
  json_duplicate_key: {
    code: 'invalid_json',
    message: 'The frame repeats a member name in one object (I-JSON forbids it)',
  },
  json_reserved_key: {
    code: 'invalid_json',
    message: 'The frame has a member named __proto__, constructor or prototype',
  },
  json_too_many_keys: {
    code: 'invalid_message',
    message: `The frame holds more than ${DEFAULT_JSON_LIMITS.maxKeys} object members`,
  },
  json_number_out_of_range: {
    code: 'invalid_json',
    message: 'A number in the frame does not fit a 64-bit float (I-JSON)',
  },
  json_lone_surrogate: {
    code: 'invalid_json',
    message: 'A string in the frame holds a lone UTF-16 surrogate (I-JSON)',
  },
};

/**
 * The checks JSON.parse does not make (the old server's parser took these frames): the I-JSON
 * ones and the bounds (depth, member count). A refusal for one of them is `strict` (RelayIntake
 * spares the legacy hardware its error frame).
 */
const STRICT_ONLY = new Set([
  'json_duplicate_key',
  'json_reserved_key',
  'json_number_out_of_range',
  'json_lone_surrogate',
  'json_too_deep',
  'json_too_many_keys',
]);

function frameRefusal(error: unknown): ParseResult & { ok: false } {
  const known = error instanceof BodyPipelineError ? FRAME_REFUSALS[error.code] : undefined;
  if (known)
    return {
      ok: false,
      ...known,
      ...(STRICT_ONLY.has((error as BodyPipelineError).code) ? { strict: true } : {}),
    };
  if (error instanceof BodyPipelineError && error.message.includes('must be a JSON object'))
    return { ok: false, code: 'invalid_json', message: 'The frame must be a JSON object' };
  return { ok: false, code: 'invalid_json', message: 'The frame is not valid JSON' };
}

/** The errors a frame's parse and checks end in (each also a close reason before kiosk auth). */
export type FrameRefusalCode = 'invalid_json' | 'invalid_message' | 'unknown_type';

export type ParseResult =
  | { ok: true; frame: InboundFrame }
  | {
      ok: false;
      code: FrameRefusalCode;
      message: string;
      /** Refused by a check of STRICT_ONLY (I-JSON, bounds): JSON.parse would have taken it. */
      strict?: true;
    };

/** The declarations each role may send, by type (derived from MESSAGES). */
const INBOUND: Record<RelayRole, Map<string, AnyMessageDef>> = Object.fromEntries(
  EVERY_SOCKET.map((role) => [role, messagesOn(role, 'client → server')]),
) as Record<RelayRole, Map<string, AnyMessageDef>>;

/**
 * Parses and checks one text frame from a client of the given role against the message's
 * declaration. Never throws. The frame returned holds the declared fields only.
 */
export function parseInboundFrame(role: RelayRole, text: string): ParseResult {
  let value: unknown;
  try {
    // I-JSON, as REST bodies: a repeated member name, a lone surrogate or a number no double
    // holds is refused (the peer's parser could read a repeated name otherwise than ours did)
    value = parseJsonText(text, FRAME_JSON_LIMITS);
  } catch (error) {
    return frameRefusal(error);
  }
  if (!isObject(value))
    return { ok: false, code: 'invalid_json', message: 'The frame must be a JSON object' };
  if (deeperThan(value, MAX_FRAME_DEPTH)) {
    const message = `The frame nests objects and arrays deeper than ${MAX_FRAME_DEPTH} levels`;
    return { ok: false, code: 'invalid_message', message, strict: true };
  }
  const type = value.type;
  const def = typeof type === 'string' ? INBOUND[role].get(type) : undefined;
  if (!def) {
    return {
      ok: false,
      code: 'unknown_type',
      message: `This socket does not take frames of type ${JSON.stringify(String(type).slice(0, 40))}`,
    };
  }
  const checked = checkFields(def, value);
  if (!checked.ok) return { ok: false, code: 'invalid_message', message: checked.problem };
  // checked against the declaration this role sends under this type: it is that frame
  return checked as ParseResult;
}

/**
 * The frames each socket relays to its peer unchanged (`data` only), by the sending role: the
 * type it sends (`from`) and the type its peer gets (`to`). `to_device` from the phone,
 * `to_mobile` from the kiosk, `to_app` from the legacy hardware (`to_hardware` is not: its
 * platform id is looked at). Each sent type must be declared with `data` (a JSON object) as its
 * one field, or the module does not load: a frame recognised by its text must be one
 * parseInboundFrame accepts.
 */
export const RELAYED_ROUTES = [
  { role: 'mobile', from: 'to_device', to: 'from_mobile' },
  { role: 'device', from: 'to_mobile', to: 'from_device' },
  { role: 'hardware', from: 'to_app', to: 'from_hardware' },
] as const;

/** The frames a relayed frame's data goes to the peer in (ASCII names). */
export type RelayedType = (typeof RELAYED_ROUTES)[number]['to'];

/** By role: how its relayed frame's text starts, as JSON.stringify writes it, and its peer type. */
const RELAYED: Partial<Record<RelayRole, { head: string; to: RelayedType }>> = {};
for (const { role, from: type, to } of RELAYED_ROUTES) {
  const def = INBOUND[role].get(type);
  const data = def?.fields.data;
  if (def?.names.length !== 1 || !data || data.optional || data.expected !== 'a JSON object')
    throw new Error(`${type} is not declared as a frame of data only`);
  RELAYED[role] = { head: `{"type":${JSON.stringify(type)},"data":`, to };
}

/** The data of a relayed frame recognised unparsed (`relayedData`). */
export interface RelayedData {
  /** The type of the frame the peer gets it in (RELAYED_ROUTES). */
  readonly type: RelayedType;
  /** Its text: an object as JSON.stringify writes it. */
  readonly text: string;
  /** Every character of `text` is ASCII (the scan looked at each one). */
  readonly ascii: boolean;
  /**
   * The whole frame's bytes as received, when a Buffer (decoded as UTF-8, they gave its text).
   * Never written to: the gate judges the decoded text, and `SerializedFrame.wire` sends these
   * bytes after it (`ws` hands each message a Buffer of its own).
   */
  readonly received: Buffer | undefined;
  /** Where the data starts in `received`: after the frame's head, which is ASCII. */
  readonly start: number;
}

/**
 * The data of a relayed frame (RELAYED_ROUTES) whose text is exactly `{"type":"…","data":…}` with
 * `data` an object in the form JSON.stringify writes (canonical-json.ts): a frame
 * parseInboundFrame would accept as that type, holding `data` only, whose data JSON.stringify
 * would write back as this same text. Undefined for any other text: parse it as usual.
 * `received`: the bytes `text` was decoded from (UTF-8), if the caller has them as a Buffer.
 */
export function relayedData(
  role: RelayRole,
  text: string,
  received?: Buffer,
): RelayedData | undefined {
  const route = RELAYED[role];
  if (route === undefined || !text.startsWith(route.head)) return undefined;
  const prefix = route.head;
  const last = text.length - 1;
  if (text.charCodeAt(last) !== 0x7d) return undefined;
  const scanned = scanCanonicalObject(text, prefix.length);
  if (scanned?.end !== last) return undefined;
  return {
    type: route.to,
    text: text.slice(prefix.length, last),
    ascii: scanned.ascii,
    received,
    start: prefix.length,
  };
}
