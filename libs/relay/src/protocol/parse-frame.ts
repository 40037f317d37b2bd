import { DEFAULT_JSON_LIMITS } from '@app/common';
import { scanCanonicalObject } from './canonical-json';
import { deeperThan, isObject } from './fields';
import { checkFields } from './message';
import { EVERY_SOCKET, InboundFrame, messagesOn, RelayErrorCode, RelayRole } from './messages';
import type { AnyMessageDef } from './message';

export { isObject } from './fields';

/**
 * How deep a frame may nest objects and arrays (the frame itself is level 1): the REST bodies'
 * bound. Deeper text could not be written back out (JSON.stringify overflows its stack).
 */
export const MAX_FRAME_DEPTH = DEFAULT_JSON_LIMITS.maxDepth;

export type ParseResult =
  { ok: true; frame: InboundFrame } | { ok: false; code: RelayErrorCode; message: string };

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
    value = JSON.parse(text);
  } catch {
    return { ok: false, code: 'invalid_json', message: 'The frame is not valid JSON' };
  }
  if (!isObject(value))
    return { ok: false, code: 'invalid_json', message: 'The frame must be a JSON object' };
  if (deeperThan(value, MAX_FRAME_DEPTH)) {
    const message = `The frame nests objects and arrays deeper than ${MAX_FRAME_DEPTH} levels`;
    return { ok: false, code: 'invalid_message', message };
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
