import { isObject } from './fields';
import { checkFields } from './message';
import { EVERY_SOCKET, InboundFrame, messagesOn, RelayErrorCode, RelayRole } from './messages';
import type { AnyMessageDef } from './message';

export { isObject } from './fields';

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
