/**
 * RFC 8785 JSON Canonicalization Scheme (JCS).
 *
 * ECMAScript's JSON serialization of strings and numbers is exactly what RFC 8785 §3.2.2
 * prescribes, so the work left is: sort object members by their names' UTF-16 code units,
 * emit no whitespace, and refuse what JSON cannot carry (NaN, Infinity, undefined
 * members are skipped as JSON.stringify does, lone surrogates are refused).
 */
export function jcs(value: unknown): string {
  return serialize(value, 0);
}

const MAX_DEPTH = 64;

function serialize(value: unknown, depth: number): string {
  if (depth > MAX_DEPTH) throw new TypeError('JCS: value nests too deeply');
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('JCS: NaN and Infinity have no JSON form');
      return JSON.stringify(value);
    case 'string':
      return serializeString(value);
    case 'object': {
      if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
        return serialize((value as { toJSON: () => unknown }).toJSON(), depth + 1);
      }
      if (Array.isArray(value)) {
        return `[${value.map((item) => (item === undefined ? 'null' : serialize(item, depth + 1))).join(',')}]`;
      }
      const entries = Object.keys(value)
        .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
        .sort()
        .map((key) => {
          return `${serializeString(key)}:${serialize((value as Record<string, unknown>)[key], depth + 1)}`;
        });
      return `{${entries.join(',')}}`;
    }
    default:
      throw new TypeError(`JCS: a ${typeof value} has no JSON form`);
  }
}

/**
 * Nothing JSON.stringify would escape (", \\, U+0000–U+001F) and no surrogate: the JSON form is
 * the text in quotes. Hex digests, ids and timestamps take this path, which is several times
 * cheaper than JSON.stringify on a short string.
 */
// eslint-disable-next-line no-control-regex -- the control characters are what it looks for
const PLAIN = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

function serializeString(text: string): string {
  if (PLAIN.test(text)) return `"${text}"`;
  assertWellFormed(text);
  return JSON.stringify(text);
}

// String.prototype.isWellFormed (V8 11.1+): the same test in native code
const isWellFormed = (String.prototype as { isWellFormed?: (this: string) => boolean })
  .isWellFormed;

function assertWellFormed(text: string): void {
  if (isWellFormed) {
    if (!isWellFormed.call(text)) throw new TypeError('JCS: string holds a lone surrogate');
    return;
  }
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff))
        throw new TypeError('JCS: string holds a lone surrogate');
      i++;
    } else if (code >= 0xdc00 && code <= 0xdfff) {
      throw new TypeError('JCS: string holds a lone surrogate');
    }
  }
}
