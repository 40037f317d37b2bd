/**
 * What must never reach a log line: secrets, tokens, platform ids, Wi-Fi passwords, images.
 * Two layers: field names (any depth) and value patterns inside strings.
 */
const SENSITIVE_KEY =
  /^(x-api-key|api_?key|authorization|cookie|set-cookie|password|wifi_password|secret|.*_secret|device_?secret|token|.*_token|jwt|platform_?id|image|image_base64|challenge|challenge_response|signature|x-signature|data_?key|private_?key|enrollment_?code|offline_?token|.*_?secret)$/i;

const SENSITIVE_VALUE: Array<[RegExp, string]> = [
  [/\bPLT_[A-Za-z0-9_-]+/g, 'PLT_[redacted]'],
  [/\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[jwt redacted]'],
  [/\bmdai_[a-z]+_[A-Za-z0-9_-]{8,}/g, '[api key redacted]'],
  [/([?&](?:token|api_key|key)=)[^&\s]*/gi, '$1[redacted]'],
];

export const REDACTED = '[redacted]';

export function redactString(value: string): string {
  let out = value;
  for (const [pattern, replacement] of SENSITIVE_VALUE) out = out.replace(pattern, replacement);
  return out;
}

/** A redacted copy of a log object (depth and breadth bounded, errors kept readable). */
export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string')
    return redactString(value.length > 4096 ? `${value.slice(0, 4096)}…` : value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 6) return '[depth limit]';
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value))
    return `[binary ${(value as Uint8Array).byteLength} bytes]`;
  if (value instanceof Error) {
    return {
      type: value.name,
      message: redactString(value.message),
      stack: value.stack && redactString(value.stack),
    };
  }
  if (Array.isArray(value)) return value.slice(0, 50).map((item) => redactValue(item, depth + 1));
  const out: Record<string, unknown> = {};
  let count = 0;
  for (const [key, item] of Object.entries(value)) {
    if (++count > 100) break;
    out[key] = SENSITIVE_KEY.test(key) ? REDACTED : redactValue(item, depth + 1);
  }
  return out;
}
