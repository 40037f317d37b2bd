/**
 * Recognises JSON text that is already in the form `JSON.stringify(JSON.parse(text))` gives
 * back, so a relayed payload in that form can be passed on as the text it came in, without
 * building its objects and writing them out again: the same bytes leave either way.
 *
 * The scan accepts a strict subset of JSON and answers "not sure" (-1) for everything else; the
 * caller then parses and serializes as before. What it accepts (and why each is exactly what
 * `JSON.stringify` writes):
 * - no whitespace outside strings;
 * - strings of characters from U+0020 up, but `"` and `\`, with surrogates only in pairs (well
 *   formed: written as they are), and the escapes `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t` (the
 *   only ones `JSON.stringify` writes for those characters); any other escape is "not sure";
 * - member names as strings above that do not start with a digit (an array index name is moved
 *   ahead of the others by V8's objects, so its position would change), are not `__proto__`
 *   (nor `constructor` or `prototype`, which the frame parser refuses), and appear once per object (a repeated name keeps the first position and the last value);
 * - numbers whose text is what `String(Number(text))` gives (`1.50`, `-0`, `1e2`, `1e400` are
 *   "not sure"), checked without conversion for those of at most 15 significant digits;
 * - `true`, `false`, `null`, arrays and objects of those, nested at most MAX_DEPTH deep, objects
 *   of at most MAX_MEMBERS names.
 * The scan also tells whether the text is all ASCII (it looks at every character), which the
 * kiosk gate then need not search for again. The spec `canonical-json.spec.ts` checks both
 * against `JSON.parse`, `JSON.stringify` and a regex on many random and hostile inputs.
 */

/**
 * Deeper text is left to JSON.parse ("not sure"), so the scan's recursion stays shallow; the
 * frame parser then refuses what nests deeper than MAX_FRAME_DEPTH (parse-frame.ts). Kept below
 * it: a relayed frame's data recognised here is never deeper than a frame may be.
 */
const MAX_DEPTH = 29;
/** Objects with more names are left to JSON.parse (the repeated-name check is quadratic). */
const MAX_MEMBERS = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** What the scan found of an object in the form JSON.stringify writes. */
export interface CanonicalObject {
  /** The index after the object's `}`. */
  end: number;
  /** Every character of the object's text is ASCII (the scan looked at each one). */
  ascii: boolean;
}

/**
 * A character above U+007F was seen in a string since the scan started (outside strings the scan
 * accepts ASCII only). Set by stringEnd; reset at the start of every scan, which is synchronous.
 */
let sawNonAscii = false;

/**
 * The JSON object starting at `start`, when its text is exactly what
 * `JSON.stringify(JSON.parse(text))` writes: where it ends and whether it is all ASCII.
 * Undefined when it is not an object or the scan is not sure.
 */
export function scanCanonicalObject(text: string, start: number): CanonicalObject | undefined {
  if (text.charCodeAt(start) !== OPEN_BRACE) return undefined;
  sawNonAscii = false;
  const end = objectEnd(text, start, 0);
  return end < 0 ? undefined : { end, ascii: !sawNonAscii };
}

/** `text` from `at` holds one value; the index after it, or -1. */
function valueEnd(text: string, at: number, depth: number): number {
  const c = text.charCodeAt(at);
  if (c === QUOTE) return stringEnd(text, at);
  if (c === OPEN_BRACE) return objectEnd(text, at, depth + 1);
  if (c === OPEN_BRACKET) return arrayEnd(text, at, depth + 1);
  if (c === MINUS || (c >= ZERO && c <= NINE)) return numberEnd(text, at);
  if (c === 0x74) return text.startsWith('true', at) ? at + 4 : -1;
  if (c === 0x66) return text.startsWith('false', at) ? at + 5 : -1;
  if (c === 0x6e) return text.startsWith('null', at) ? at + 4 : -1;
  return -1;
}

function objectEnd(text: string, open: number, depth: number): number {
  if (depth > MAX_DEPTH) return -1;
  let at = open + 1;
  if (text.charCodeAt(at) === CLOSE_BRACE) return at + 1;
  // the names seen so far, as [start, end) pairs of their text (quotes included)
  const names: number[] = [];
  for (;;) {
    const first = text.charCodeAt(at + 1);
    if (first >= ZERO && first <= NINE) return -1;
    const nameEnd = stringEnd(text, at);
    if (nameEnd < 0 || text.charCodeAt(nameEnd) !== COLON) return -1;
    // names the frame parser refuses (I-JSON scan, as REST bodies): parsed, so refused there
    if (nameEnd - at === 11 && text.startsWith('"__proto__"', at)) return -1;
    if (nameEnd - at === 11 && text.startsWith('"prototype"', at)) return -1;
    if (nameEnd - at === 13 && text.startsWith('"constructor"', at)) return -1;
    for (let i = 0; i < names.length; i += 2)
      if (sameText(text, names[i], names[i + 1], at, nameEnd)) return -1;
    if (names.length === MAX_MEMBERS * 2) return -1;
    names.push(at, nameEnd);
    at = valueEnd(text, nameEnd + 1, depth);
    if (at < 0) return -1;
    const next = text.charCodeAt(at);
    if (next === CLOSE_BRACE) return at + 1;
    if (next !== COMMA) return -1;
    at++;
    if (text.charCodeAt(at) !== QUOTE) return -1;
  }
}

function arrayEnd(text: string, open: number, depth: number): number {
  if (depth > MAX_DEPTH) return -1;
  let at = open + 1;
  if (text.charCodeAt(at) === CLOSE_BRACKET) return at + 1;
  for (;;) {
    at = valueEnd(text, at, depth);
    if (at < 0) return -1;
    const next = text.charCodeAt(at);
    if (next === CLOSE_BRACKET) return at + 1;
    if (next !== COMMA) return -1;
    at++;
  }
}

/** A string at `at` (its opening quote) in the form JSON.stringify writes; after it, or -1. */
function stringEnd(text: string, at: number): number {
  if (text.charCodeAt(at) !== QUOTE) return -1;
  const length = text.length;
  for (let i = at + 1; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) return i + 1;
    if (c < 0x20) return -1;
    if (c === BACKSLASH) {
      const e = text.charCodeAt(++i);
      // the short escapes JSON.stringify writes: \" \\ \b \f \n \r \t
      if (
        e !== QUOTE &&
        e !== BACKSLASH &&
        e !== 0x62 &&
        e !== 0x66 &&
        e !== 0x6e &&
        e !== 0x72 &&
        e !== 0x74
      )
        return -1;
    } else if (c > 0x7f) {
      // one test for ASCII characters, as before: the surrogates are above it too
      sawNonAscii = true;
      if (c >= 0xd800 && c <= 0xdfff) {
        // a surrogate is written as it is only as the high half of a pair
        if (c >= 0xdc00) return -1;
        const low = text.charCodeAt(++i);
        if (!(low >= 0xdc00 && low <= 0xdfff)) return -1;
      }
    }
  }
  return -1;
}

/** A number at `at` written as String(Number(text)) writes it; after it, or -1. */
function numberEnd(text: string, at: number): number {
  let i = at;
  if (text.charCodeAt(i) === MINUS) i++;
  const intStart = i;
  let c = text.charCodeAt(i);
  if (c === ZERO) c = text.charCodeAt(++i);
  else if (c >= 0x31 && c <= NINE) {
    do c = text.charCodeAt(++i);
    while (c >= ZERO && c <= NINE);
  } else return -1;
  const intDigits = i - intStart;
  let fracStart = -1;
  let fracEnd = -1;
  if (c === DOT) {
    fracStart = ++i;
    c = text.charCodeAt(i);
    while (c >= ZERO && c <= NINE) c = text.charCodeAt(++i);
    if (i === fracStart) return -1;
    fracEnd = i;
  }
  let exponent = false;
  if (c === 0x65 || c === 0x45) {
    exponent = true;
    c = text.charCodeAt(++i);
    if (c === 0x2b || c === MINUS) c = text.charCodeAt(++i);
    const expStart = i;
    while (c >= ZERO && c <= NINE) c = text.charCodeAt(++i);
    if (i === expStart) return -1;
  }
  if (!exponent && shortestAsWritten(text, at, intStart, intDigits, fracStart, fracEnd)) return i;
  const literal = text.slice(at, i);
  return String(Number(literal)) === literal ? i : -1;
}

/**
 * True when a number without exponent is surely written back as it is, known without converting
 * it: at most 15 significant digits (a decimal of at most 15 digits is the only one of that many
 * that rounds to its double, so it is the shortest form, the one written), no zero ending the
 * fraction, and the layout Number's toString uses for it (no exponent from 1e-6 up to 1e21; -0
 * written as 0). False means "convert and compare", never "not canonical".
 */
function shortestAsWritten(
  text: string,
  at: number,
  intStart: number,
  intDigits: number,
  fracStart: number,
  fracEnd: number,
): boolean {
  const zeroInt = text.charCodeAt(intStart) === ZERO;
  if (fracStart < 0) return intDigits <= 15 && !(zeroInt && intStart > at);
  if (text.charCodeAt(fracEnd - 1) === ZERO) return false;
  if (!zeroInt) return intDigits + fracEnd - fracStart <= 15;
  let first = fracStart;
  while (text.charCodeAt(first) === ZERO) first++;
  // 0.000001 is written so, 0.0000001 as 1e-7
  return first - fracStart <= 5 && fracEnd - first <= 15;
}

function sameText(text: string, a: number, aEnd: number, b: number, bEnd: number): boolean {
  if (aEnd - a !== bEnd - b) return false;
  for (let i = 0; i < aEnd - a; i++)
    if (text.charCodeAt(a + i) !== text.charCodeAt(b + i)) return false;
  return true;
}
