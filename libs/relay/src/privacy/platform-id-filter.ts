/**
 * Finds and removes platform ids in frames bound for a kiosk. A `PlatformIdMatcher` knows every
 * platform id the session ever held and finds each of them in any letter case, and in base64 or
 * base64url (at any byte alignment, of the id as given, upper- or lower-cased), in hex, and
 * without its `PLT_` prefix, so an upstream answer or a phone payload that re-encodes the id is
 * caught too.
 */
export const PLATFORM_ID_KEY = /^platform[_-]?id$/i;
export const REDACTED_PLATFORM_ID = '[platform_id removed]';
const MAX_DEPTH = 64;

/**
 * Text up to this length is screened first by `surelyClean` (a shared regex and a substring
 * search per form, which most frames pass); longer text goes straight to the full search, whose
 * work a first screen would only repeat on the frames it cannot rule out.
 */
const SCREEN_MAX_LENGTH = 1024;
// eslint-disable-next-line no-control-regex -- every character outside ASCII, by code
const NON_ASCII = /[^\x00-\x7f]/;
/** `surelyClean`'s screen of the platform-id key (`"platform`, in any ASCII case). */
const ID_KEY_SCREEN = /"[pP][lL][aA][tT][fF][oO][rR][mM]/;
/** The same, and `plt_` in any ASCII case, where any session's id would start. */
const ANY_ID_SCREEN = /[pP][lL][tT]_|"[pP][lL][aA][tT][fF][oO][rR][mM]/;

/** An underscore as a sent id may carry it: plain, percent-encoded (lower case), fullwidth. */
const UNDERSCORES = ['_', '%5f', '\uff3f'];

export class PlatformIdMatcher {
  /** Lower-cased plain ids and their derived forms (hex, the id without `PLT_`). */
  private readonly plain: string[];
  /**
   * The plain forms `surelyClean` searches for, each by native substring search in the
   * lower-cased text: the ids whose lower case is ASCII (no other can occur in ASCII text) and
   * the derived forms. A form holding another is left out (found anyway).
   */
  private readonly screened: string[];
  /** `screened` without the ids starting `plt_`: found by ANY_ID_SCREEN already. */
  private readonly screenedBesidesPlt: string[];
  /** Case-sensitive base64 / base64url fragments that only an encoded id produces. */
  private readonly encoded: string[];

  constructor(ids: Iterable<string>) {
    const unique = [...new Set([...ids].filter((id) => id.length > 0))];
    // each id, its hex (UTF-8 bytes; either case, as every plain form), and the id without its
    // `PLT_` prefix: a fullwidth or percent-encoded underscore, or a NUL or zero-width character
    // slipped into the prefix, leaves that whole (a sent id has 10 to 124 characters after it).
    // A derived form of digits only is left out: `PLT_1765135200`'s suffix is a number any frame
    // may carry (a timestamp), and the gate would drop that frame (`hasLetter`); such a suffix is
    // looked for after an underscore instead, plain, percent-encoded or fullwidth (`_1765135200`,
    // `%5f1765135200`, `＿1765135200`: the forms a zero-width character in the prefix, a
    // percent-encoded or a fullwidth underscore leave), never as a bare number (review R14)
    const lowered = new Set<string>();
    const derived = new Set<string>();
    for (const id of unique) {
      const lower = id.toLowerCase();
      lowered.add(lower);
      for (const form of [id, lower, id.toUpperCase()]) {
        const hex = Buffer.from(form, 'utf8').toString('hex');
        if (hasLetter(hex)) derived.add(hex);
      }
      const suffix = lower.slice(4);
      if (lower.startsWith('plt_') && suffix.length >= 10) {
        if (hasLetter(suffix)) derived.add(suffix);
        else for (const underscore of UNDERSCORES) derived.add(underscore + suffix);
      }
    }
    this.plain = [...new Set([...lowered, ...derived])];
    // a form that is not all ASCII cannot occur in ASCII text, the only text screened
    const forms = [...new Set([...lowered, ...derived])].filter((form) => !NON_ASCII.test(form));
    this.screened = forms.filter(
      (form, at) => !forms.some((other, i) => i !== at && form.includes(other)),
    );
    this.screenedBesidesPlt = this.screened.filter((form) => !form.startsWith('plt_'));
    const fragments = new Set<string>();
    for (const id of unique)
      for (const form of new Set([id, id.toLowerCase(), id.toUpperCase()]))
        for (const fragment of base64Fragments(form)) fragments.add(fragment);
    this.encoded = [...fragments];
  }

  get empty(): boolean {
    return this.plain.length === 0;
  }

  /**
   * True only when `text` surely holds none of the ids (as `testLowered` would find them) and,
   * with `idKey`, no `"platform` in any case, and with `anyId`, no `plt_` in any case: short
   * ASCII text. On ASCII text `toLowerCase` maps A–Z only, so a plain form matches there exactly
   * where its letters match in either ASCII case; text with any other character (whose lower
   * case may be ASCII, like the Kelvin sign's) or longer text gets false, which means "search as
   * before" (`testLowered`), never "found". `ascii`: the caller knows `text` is all ASCII (a scan
   * that looked at every character), so the search for any other character is skipped; a caller
   * that does not know passes false, never a guess.
   *
   * The key and `plt_` are searched with one regex every matcher shares; the session's forms by
   * native substring search, each (a regex of their alternation, one per session, took twice
   * as long: it cannot skip ahead by a first character, and a thousand sessions' compiled
   * regexes do not stay in the processor's caches).
   */
  surelyClean(text: string, idKey: boolean, ascii = false, anyId = false): boolean {
    if (text.length > SCREEN_MAX_LENGTH || (!ascii && NON_ASCII.test(text))) return false;
    if (anyId ? ANY_ID_SCREEN.test(text) : idKey && ID_KEY_SCREEN.test(text)) return false;
    const forms = anyId ? this.screenedBesidesPlt : this.screened;
    if (forms.length > 0) {
      const lower = text.toLowerCase();
      for (const form of forms) if (lower.includes(form)) return false;
    }
    for (const fragment of this.encoded) if (text.includes(fragment)) return false;
    return true;
  }

  /** True when `text` holds one of the ids in any case or encoding. */
  test(text: string): boolean {
    return this.plain.length > 0 && this.testLowered(text, text.toLowerCase());
  }

  /** `test`, for a caller that has `text.toLowerCase()` already (`lower`). */
  testLowered(text: string, lower: string): boolean {
    for (const id of this.plain) if (lower.includes(id)) return true;
    for (const fragment of this.encoded) if (text.includes(fragment)) return true;
    return false;
  }

  /**
   * `text` with every plain occurrence (any case) replaced; a string that still holds an encoded
   * id is replaced whole (its encoded neighbours cannot be kept apart from the id).
   */
  replaceIn(text: string, replacement: string): string {
    let out = text;
    for (const id of this.plain) out = replaceInsensitive(out, id, replacement);
    if (this.encoded.some((fragment) => out.includes(fragment))) return replacement;
    return out;
  }

  /**
   * A copy of `value` for a kiosk: keys named like platform_id are dropped (`dropIdKeys`), keys
   * holding an id are dropped (or renamed with `replacement`), strings have the ids replaced.
   */
  scrub(value: unknown, replacement: string, dropIdKeys: boolean): unknown {
    return this.transform(value, replacement, dropIdKeys, 0);
  }

  private transform(
    value: unknown,
    replacement: string,
    dropIdKeys: boolean,
    depth: number,
  ): unknown {
    if (typeof value === 'string')
      return this.test(value) ? this.replaceIn(value, replacement) : value;
    if (value === null || typeof value !== 'object') return value;
    if (depth > MAX_DEPTH) return null;
    if (Array.isArray(value))
      return value.map((item) => this.transform(item, replacement, dropIdKeys, depth + 1));
    // null prototype: a "__proto__" key from JSON.parse stays a plain key
    const out = Object.create(null) as Record<string, unknown>;
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      if (dropIdKeys && PLATFORM_ID_KEY.test(key)) continue;
      let outKey = key;
      if (this.test(key)) {
        if (dropIdKeys) continue;
        outKey = this.replaceIn(key, replacement);
      }
      out[outKey] = this.transform(item, replacement, dropIdKeys, depth + 1);
    }
    return out;
  }
}

/** True when `text` holds an ASCII letter: a form of digits only may be any number in a frame. */
function hasLetter(text: string): boolean {
  return /[a-z]/i.test(text);
}

/** Replaces `needle` (lower-case) in `text` ignoring case. */
function replaceInsensitive(text: string, needle: string, replacement: string): string {
  const lower = text.toLowerCase();
  if (!lower.includes(needle) || lower.length !== text.length) {
    // a case mapping that changes the length (rare Unicode): replace on the lower-cased text
    return lower.includes(needle) ? lower.split(needle).join(replacement) : text;
  }
  let out = '';
  let from = 0;
  for (let at = lower.indexOf(needle); at >= 0; at = lower.indexOf(needle, from)) {
    out += text.slice(from, at) + replacement;
    from = at + needle.length;
  }
  return out + text.slice(from);
}

/**
 * The base64 and base64url characters that the id's bytes produce whatever precedes them:
 * for each of the three byte alignments, the 4-character groups made of id bytes only.
 */
export function base64Fragments(id: string): string[] {
  const bytes = Buffer.from(id, 'utf8');
  const out: string[] = [];
  for (let lead = 0; lead < 3; lead++) {
    const skip = lead === 0 ? 0 : 3 - lead; // id bytes that share a group with what precedes
    const whole = Math.floor((bytes.length - skip) / 3) * 3;
    if (whole < 6) continue; // too short to be told apart from chance
    const chunk = bytes.subarray(skip, skip + whole);
    const b64 = chunk.toString('base64');
    out.push(b64, chunk.toString('base64url'));
  }
  return [...new Set(out)];
}
