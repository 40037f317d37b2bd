/**
 * Keeps a platform id out of frames bound for a kiosk: `withoutPlatformId` removes it at any
 * depth (keys named like platform_id, keys and strings that contain it), `replaceEverywhere`
 * swaps it for another string (the legacy alias) in keys and strings.
 */
const PLATFORM_ID_KEY = /^platform[_-]?id$/i;
export const REDACTED_PLATFORM_ID = '[platform_id removed]';
const MAX_DEPTH = 64;

export function withoutPlatformId(value: unknown, platformId: string | undefined): unknown {
  return transform(value, platformId, REDACTED_PLATFORM_ID, true, 0);
}

export function replaceEverywhere(value: unknown, from: string, to: string): unknown {
  return transform(value, from, to, false, 0);
}

function transform(
  value: unknown,
  needle: string | undefined,
  replacement: string,
  dropIdKeys: boolean,
  depth: number,
): unknown {
  if (typeof value === 'string')
    return needle && value.includes(needle) ? value.split(needle).join(replacement) : value;
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) return null;
  if (Array.isArray(value))
    return value.map((item) => transform(item, needle, replacement, dropIdKeys, depth + 1));
  // null prototype: a "__proto__" key from JSON.parse stays a plain key
  const out = Object.create(null) as Record<string, unknown>;
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    if (dropIdKeys && PLATFORM_ID_KEY.test(key)) continue;
    let outKey = key;
    if (needle && key.includes(needle)) {
      if (dropIdKeys) continue;
      outKey = key.split(needle).join(replacement);
    }
    out[outKey] = transform(item, needle, replacement, dropIdKeys, depth + 1);
  }
  return out;
}
