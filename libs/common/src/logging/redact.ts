import { IncomingMessage, ServerResponse } from 'node:http';
import { types } from 'node:util';

/**
 * What must never reach a log line: secrets, tokens, platform ids, Wi-Fi passwords, images.
 * Two layers: field names (any depth) and value patterns inside strings.
 */
const SENSITIVE_KEY =
  /^(x-api-key|api_?key|authorization|cookie|set-cookie|password|wifi_password|secret|.*_secret|device_?secret|token|.*_token|jwt|platform_?id|image|image_base64|challenge|challenge_response|signature|x-signature|data_?key|private_?key|enrollment_?code|offline_?token|.*_?secret)$/i;

/**
 * An API key of the server's shape, `mdai_<word>_<8 or more of base64url>` (AUTH_SECRETS: a role
 * prefix, `adm` `prv` `aud` `mob` `hw`, and 32 characters), but not a metric name of ours,
 * which has that shape too (`mdai_fraud_events_unstored_total`). With a role prefix, any such
 * text is a key. With another word, it is one unless the rest is lowercase snake_case, words
 * of at most 19 letters or digits (`events_unstored_total`): a key's random part holds an
 * upper-case letter or `-` (all but ~1 in 40 million of them), and a lower-case one chosen by
 * hand (`bbbb…`, hex) a run of 20 or more without `_`, where metric names' longest word is 15
 * (`unauthenticated`).
 */
const API_KEY =
  /\bmdai_(?:(?:adm|prv|aud|mob|hw)_|[a-z]+_(?![a-z0-9]{1,19}(?:_[a-z0-9]{1,19})*(?![A-Za-z0-9_-])))[A-Za-z0-9_-]{8,}/g;

const SENSITIVE_VALUE: Array<[RegExp, string]> = [
  [/\bPLT_[A-Za-z0-9_-]+/g, 'PLT_[redacted]'],
  [/\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[jwt redacted]'],
  [API_KEY, '[api key redacted]'],
  [/([?&](?:token|api_key|key)=)[^&\s]*/gi, '$1[redacted]'],
];

export const REDACTED = '[redacted]';

/** Each SENSITIVE_VALUE pattern needs one of these; a string with none is left as it is. */
const MAY_BE_SENSITIVE = /PLT_|eyJ|mdai_|=/;

/**
 * The server's own configured secrets (its API keys of every role, its JWT secret, its store
 * MAC keys and its vault master keys, every version held: registered by the config that loads
 * them, `registerSecrets`, `registerKeySecrets`), replaced exactly wherever they occur in a
 * logged string, whatever their shape: a key chosen by hand (`mdai_live_backoffice_key_2026_q4`)
 * is not one the pattern above can tell from a metric name. Kept for the process's life.
 */
const SECRETS = new Map<string, string>();
let secretPattern: RegExp | undefined;

/** Registers configured secret values (8 characters or more) with `replacement` for each. */
export function registerSecrets(values: Iterable<string>, replacement: string): void {
  for (const value of values) if (value.length >= 8) SECRETS.set(value, replacement);
  const escaped = [...SECRETS.keys()]
    // the longest first: a key that holds another is replaced whole
    .sort((a, b) => b.length - a.length)
    .map((value) => value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  secretPattern = escaped.length > 0 ? new RegExp(escaped.join('|'), 'g') : undefined;
}

/**
 * Registers binary keys (a store MAC key, a vault master key) in every text form a log line
 * could show one in: base64 and base64url without their padding (so the padded forms are
 * caught too, the `=` left), lowercase hex, and each `written` text as configured (padding
 * dropped), which may be a form none of these is (base64 whose last character carries spare
 * bits).
 */
export function registerKeySecrets(
  keys: Iterable<Buffer>,
  replacement: string,
  written: Iterable<string> = [],
): void {
  const forms: string[] = [];
  for (const key of keys)
    forms.push(
      key.toString('base64').replace(/=+$/, ''),
      key.toString('base64url'),
      key.toString('hex'),
    );
  for (const text of written) forms.push(text.trim().replace(/=+$/, ''));
  registerSecrets(forms, replacement);
}

/**
 * `value` with every registered secret replaced (`registerSecrets`): the one list of the
 * server's configured secrets, for logs and for whatever else must never carry one (the relay's
 * copy of an upstream answer).
 */
export function redactSecrets(value: string): string {
  return secretPattern ? value.replace(secretPattern, (secret) => SECRETS.get(secret)!) : value;
}

export function redactString(value: string): string {
  if (secretPattern) value = redactSecrets(value);
  if (!MAY_BE_SENSITIVE.test(value)) return value;
  let out = value;
  for (const [pattern, replacement] of SENSITIVE_VALUE) out = out.replace(pattern, replacement);
  return out;
}

/**
 * The log formatter: a redacted copy of one log call's object. pino-http logs the raw
 * `IncomingMessage` / `ServerResponse` under `req` / `res`; walking those (socket, server,
 * parser…) cost more CPU than the request itself, and their serializers (logging.module.ts)
 * already reduce them to a few safe fields (method, redacted path, status), so they pass
 * through as they are. Everything else, including a raw request or response logged under
 * any other key, is redacted field by field as before.
 */
export function redactLogObject(object: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let count = 0;
  for (const key in object) {
    if (!Object.prototype.hasOwnProperty.call(object, key)) continue;
    if (++count > 100) break;
    const item = object[key];
    if (SENSITIVE_KEY.test(key)) out[key] = REDACTED;
    else if (
      (key === 'req' && item instanceof IncomingMessage) ||
      (key === 'res' && item instanceof ServerResponse)
    )
      out[key] = item;
    else out[key] = redactValue(item, 1);
  }
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
  // isNativeError also knows errors made in another realm (a native addon's, under jest's vm)
  if (value instanceof Error || types.isNativeError(value)) {
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
