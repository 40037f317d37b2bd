import { INBOUND_TYPES, InboundFrame, JsonObject, RelayErrorCode, RelayRole } from './messages';

export type ParseResult =
  { ok: true; frame: InboundFrame } | { ok: false; code: RelayErrorCode; message: string };

/** Parses and checks one text frame from a client of the given role. Never throws. */
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
  if (typeof type !== 'string' || !(INBOUND_TYPES[role] as readonly string[]).includes(type)) {
    return {
      ok: false,
      code: 'unknown_type',
      message: `This socket does not take frames of type ${JSON.stringify(String(type).slice(0, 40))}`,
    };
  }
  const bad = (message: string): ParseResult => ({ ok: false, code: 'invalid_message', message });
  switch (type) {
    case 'ping':
    case 'pong':
      return { ok: true, frame: { type } };
    case 'to_device':
    case 'to_mobile':
    case 'to_hardware':
    case 'to_app':
      if (!isObject(value.data)) return bad(`${type}.data must be a JSON object`);
      return { ok: true, frame: { type, data: value.data } };
    case 'auth':
      if (
        typeof value.session_id !== 'string' ||
        typeof value.device_id !== 'string' ||
        typeof value.signature !== 'string'
      ) {
        return bad('auth needs string session_id, device_id and signature');
      }
      if (value.device_id.length > 128 || value.signature.length > 4096)
        return bad('auth fields are too long');
      return {
        ok: true,
        frame: {
          type,
          session_id: value.session_id,
          device_id: value.device_id,
          signature: value.signature,
        },
      };
    case 'submit_result':
      if (typeof value.image !== 'string' || value.image.length === 0)
        return bad('submit_result.image must be a base64 string');
      if (
        value.passes !== undefined &&
        (typeof value.passes !== 'number' ||
          !Number.isInteger(value.passes) ||
          value.passes < 0 ||
          value.passes > 1000)
      ) {
        return bad('submit_result.passes must be a whole number');
      }
      return {
        ok: true,
        frame: { type, image: value.image, passes: value.passes },
      };
    case 'to_backend':
      if (!isObject(value.data)) return bad('to_backend.data must be a JSON object');
      return { ok: true, frame: { type, data: value.data } };
    default:
      return { ok: false, code: 'unknown_type', message: 'Unknown frame type' };
  }
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
