import { BodyPipelineError } from './body-errors';

/** What a JSON request body may hold before anything else (guards, pipes, services) sees it. */
export interface JsonLimits {
  /** Deepest nesting of objects and arrays (the top level is depth 1). */
  maxDepth: number;
  /** Object members in the whole document. */
  maxKeys: number;
  /** UTF-16 code units in one string (member names included), after unescaping. */
  maxStringLength: number;
}

export const DEFAULT_JSON_LIMITS: JsonLimits = {
  maxDepth: 32,
  maxKeys: 20_000,
  maxStringLength: 65_536,
};

/**
 * Parses a JSON request body as I-JSON (RFC 7493, which RFC 8785 asks of its input) within
 * `limits`, from its bytes: valid UTF-8 without a BOM (the body pipeline checks and strips
 * them; `parseJsonText` for a string). One linear pass over the bytes (`JsonScanner`) checks
 * nesting depth, member count, string length, duplicate member names, lone surrogates and
 * numbers that do not fit a double, and only then does JSON.parse build the value. Each refusal
 * is a 400 with its own code, so no later stage (a guard hashing the body, the ValidationPipe
 * walking it) sees a hostile shape. The top level must be an object or an array (as
 * body-parser's `strict`); a valid scalar is refused as such (400 `invalid_json`, "must be a
 * JSON object"), not as text that does not parse.
 *
 * The body's text is never made as one string: a string of more than ~128 KiB is one of V8's
 * large objects, each a fresh mapping of its own, whose pages this machine faults in at ~20 µs
 * each (a 500-packet sync body's text: ~45 faults, ~1 ms of the event loop). Each member of the
 * top-level object is parsed on its own, a top-level array member's items `pieceBytes` of text
 * at a time (`JSON.parse('[' + items + ']')` gives those items, equal to the whole parse's: the
 * same text, parsed the same way; I-JSON has no repeated names, so the members are the ones
 * JSON.parse would set). JSON's structural characters are all ASCII, never a byte of a
 * multi-byte UTF-8 sequence, so each piece cut at one is whole UTF-8. A top level that is an
 * array (which the body pipeline refuses) is parsed whole.
 */
export function parseJsonBody(
  bytes: Buffer,
  limits: JsonLimits,
  pieceBytes = PIECE_BYTES,
): unknown {
  const scanner = new JsonScanner(bytes, limits);
  scanner.scan();
  const members = scanner.members;
  if (members === undefined) return JSON.parse(bytes.toString('utf8')) as unknown;
  const value: Record<string, unknown> = {};
  for (const member of members) {
    const places = member.places;
    if (places === undefined) {
      value[member.name] = JSON.parse(bytes.toString('utf8', member.start, member.end));
      continue;
    }
    const items: unknown[] = [];
    const count = places.length >> 1;
    for (let from = 0; from < count;) {
      let to = from + 1;
      while (to < count && places[to * 2 + 1] - places[from * 2] <= pieceBytes) to++;
      const text = bytes.toString('utf8', places[from * 2], places[(to - 1) * 2 + 1]);
      for (const item of JSON.parse(`[${text}]`) as unknown[]) items.push(item);
      from = to;
    }
    value[member.name] = items;
    ITEM_TEXTS.set(items, { bytes, places });
  }
  return value;
}

/**
 * `parseJsonBody` of a string (a WebSocket frame's text): its UTF-8 bytes. A string decoded from
 * UTF-8 holds no lone surrogate; one that does is refused as such, not read as U+FFFD.
 */
export function parseJsonText(text: string, limits: JsonLimits): unknown {
  if (LONE_SURROGATE.test(text)) throw loneSurrogate();
  return parseJsonBody(Buffer.from(text, 'utf8'), limits);
}

/** A UTF-16 unit of a surrogate pair without its other half. */
const LONE_SURROGATE = /\p{Cs}/u;

/** The most bytes of items `parseJsonBody` parses in one JSON.parse (see there). */
const PIECE_BYTES = 60 << 10;

/**
 * The arrays `parseJsonBody` returned as members of a top-level object, each with the places of
 * its items in the body's bytes: [start, end) of item i at 2i, 2i + 1. The body lives as long as
 * the array does (a request's body: the request), not only through the parse.
 */
const ITEM_TEXTS = new WeakMap<unknown[], { bytes: Buffer; places: number[] }>();

/**
 * The text of `array[from]` … `array[to - 1]` as the request body held it, separated by their
 * commas, without brackets: `JSON.parse('[' + text + ']')` gives those items again, equal to
 * the parsed ones (the same text, parsed the same way). Only for an array `parseJsonBody` made
 * as a member of a top-level object (a request body's `packets`), still of the length it was
 * parsed with; undefined for any other array or an empty range. The body's bytes decoded
 * (whole UTF-8: the places are at ASCII bytes): a thread it is posted to gets the text, not a
 * structured clone of the items (the packet checks: a fraction of the main thread's cost for
 * 250 packets).
 */
export function bodyItemsText(array: unknown[], from: number, to: number): string | undefined {
  const known = ITEM_TEXTS.get(array);
  if (!known || known.places.length !== array.length * 2) return undefined;
  if (!(from >= 0 && from < to && to <= array.length)) return undefined;
  return known.bytes.toString('utf8', known.places[from * 2], known.places[(to - 1) * 2 + 1]);
}

/**
 * The I-JSON checks of `parseJsonBody`, over the bytes of valid UTF-8. It also keeps the
 * top-level object's members (`members`: name, the value's [start, end), an array member's
 * items' places); undefined when the top level is an array.
 */
class JsonScanner {
  private i = 0;
  private keys = 0;
  members?: { name: string; start: number; end: number; places?: number[] }[];

  constructor(
    private readonly bytes: Buffer,
    private readonly limits: JsonLimits,
  ) {}

  scan(): void {
    this.skipWs();
    const first = this.bytes[this.i];
    if (first === 0x7b) this.members = [];
    this.value(1);
    this.skipWs();
    if (this.i !== this.bytes.length) throw invalidJson();
    // valid JSON, but a scalar: no body of this API is one (the body pipeline refuses arrays)
    if (first !== 0x7b && first !== 0x5b) throw notAnObject();
  }

  // recursion is bounded by maxDepth, checked before descending
  private value(depth: number): void {
    this.skipWs();
    const c = this.bytes[this.i];
    if (c === 0x7b || c === 0x5b) {
      if (depth > this.limits.maxDepth) {
        throw new BodyPipelineError(
          'json_too_deep',
          `The JSON body nests deeper than ${this.limits.maxDepth} levels`,
        );
      }
      if (c === 0x7b) this.object(depth);
      else this.array(depth);
    } else if (c === 0x22) this.string();
    else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) this.number();
    else if (this.word('true')) this.i += 4;
    else if (this.word('false')) this.i += 5;
    else if (this.word('null')) this.i += 4;
    else throw invalidJson();
  }

  private word(word: string): boolean {
    const bytes = this.bytes;
    const at = this.i;
    for (let k = 0; k < word.length; k++) if (bytes[at + k] !== word.charCodeAt(k)) return false;
    return true;
  }

  private object(depth: number): void {
    const bytes = this.bytes;
    this.i++;
    // a name with no escape is its bytes' place in the body, compared byte by byte (no string
    // made for it: a 500-packet body has ~7,000 names; UTF-8 spells a string one way only); an
    // escaped one, its value. This object's names are [base, nameTop) of the scanner's name
    // stack (an object nested in a member's value stacks its own above them, and leaves it as
    // it found it): no arrays of its own per object (a 500-packet body has ~1,000 objects).
    // Past SMALL names, every name's value in a Set
    const starts = this.nameStarts;
    const ends = this.nameEnds;
    const values = this.nameValues;
    const base = this.nameTop;
    let many: Set<string> | undefined;
    this.skipWs();
    if (bytes[this.i] === 0x7d) {
      this.i++;
      return;
    }
    for (;;) {
      this.skipWs();
      if (bytes[this.i] !== 0x22) throw invalidJson();
      let name: string | undefined = this.string(NAME);
      const start = this.nameStart;
      const end = this.nameEnd;
      if (this.plainName) name = undefined;
      let repeated = false;
      const top = this.nameTop;
      if (many) repeated = many.has((name ??= bytes.toString('utf8', start, end)));
      else {
        for (let k = base; k < top && !repeated; k++)
          repeated = this.sameName(starts[k], ends[k], values[k], start, end, name);
      }
      if (repeated) {
        throw new BodyPipelineError(
          'json_duplicate_key',
          'The JSON body repeats a member name in one object (I-JSON forbids it)',
        );
      }
      if (name !== undefined ? RESERVED_NAMES.includes(name) : this.reservedAt(start, end)) {
        // JSON.parse makes them plain members, which the DTOs' transform then drops unseen
        throw new BodyPipelineError(
          'json_reserved_key',
          `The JSON body has a member named "${name ?? bytes.toString('utf8', start, end)}", which no request of this API has`,
        );
      }
      if (many) many.add(name!);
      else {
        starts[top] = start;
        ends[top] = end;
        values[top] = name;
        this.nameTop = top + 1;
        if (top + 1 - base > SMALL) {
          many = new Set<string>();
          for (let k = base; k <= top; k++)
            many.add(values[k] ?? bytes.toString('utf8', starts[k], ends[k]));
        }
      }
      if (++this.keys > this.limits.maxKeys) {
        throw new BodyPipelineError(
          'json_too_many_keys',
          `The JSON body holds more than ${this.limits.maxKeys} object members`,
        );
      }
      this.skipWs();
      if (bytes[this.i++] !== 0x3a) throw invalidJson();
      this.skipWs();
      if (depth === 1) {
        // a member of the top-level object: its place, an array's items' places (bodyItemsText)
        const member: { name: string; start: number; end: number; places?: number[] } = {
          name: name ?? bytes.toString('utf8', start, end),
          start: this.i,
          end: this.i,
        };
        if (bytes[this.i] === 0x5b && depth + 1 <= this.limits.maxDepth) {
          member.places = [];
          this.array(depth + 1, member.places);
        } else this.value(depth + 1);
        member.end = this.i;
        this.members!.push(member);
      } else this.value(depth + 1);
      this.skipWs();
      const next = bytes[this.i++];
      if (next === 0x7d) {
        this.nameTop = base;
        return;
      }
      if (next !== 0x2c) throw invalidJson();
    }
  }

  /** `places`: each item's [start, end) in the bytes is pushed to it. */
  private array(depth: number, places?: number[]): void {
    const bytes = this.bytes;
    this.i++;
    this.skipWs();
    if (bytes[this.i] === 0x5d) {
      this.i++;
      return;
    }
    for (;;) {
      if (places) {
        this.skipWs();
        places.push(this.i);
        this.value(depth + 1);
        places.push(this.i);
      } else this.value(depth + 1);
      this.skipWs();
      const next = bytes[this.i++];
      if (next === 0x5d) return;
      if (next !== 0x2c) throw invalidJson();
    }
  }

  /**
   * Whether two member names are the same: each a place [start, end) of a name with no escape,
   * or the value of an escaped one.
   */
  private sameName(
    aStart: number,
    aEnd: number,
    aValue: string | undefined,
    bStart: number,
    bEnd: number,
    bValue: string | undefined,
  ): boolean {
    const bytes = this.bytes;
    if (aValue === undefined && bValue === undefined) {
      if (aEnd - aStart !== bEnd - bStart) return false;
      for (let k = 0; k < aEnd - aStart; k++)
        if (bytes[aStart + k] !== bytes[bStart + k]) return false;
      return true;
    }
    return (
      (aValue ?? bytes.toString('utf8', aStart, aEnd)) ===
      (bValue ?? bytes.toString('utf8', bStart, bEnd))
    );
  }

  /** Whether the name with no escape at [start, end) is one of RESERVED_NAMES. */
  private reservedAt(start: number, end: number): boolean {
    const bytes = this.bytes;
    return RESERVED_NAMES.some((word) => {
      if (word.length !== end - start) return false;
      for (let k = 0; k < word.length; k++)
        if (bytes[start + k] !== word.charCodeAt(k)) return false;
      return true;
    });
  }

  /**
   * The names of the objects open now, outermost first (`object`): each name's place
   * [start, end) in the bytes and, for an escaped one, its value (undefined otherwise); entries
   * at `nameTop` and above are left from closed objects, overwritten as names are read.
   */
  private readonly nameStarts: number[] = [];
  private readonly nameEnds: number[] = [];
  private readonly nameValues: (string | undefined)[] = [];
  private nameTop = 0;

  /** Where the last member name read (`string(NAME)`) is, and whether it had no escape. */
  private nameStart = 0;
  private nameEnd = 0;
  private plainName = false;

  /**
   * Reads a string token. `wanted`: true for its value (else '': values are only checked, not
   * built); NAME for a member name, its value only when it holds an escape ('' otherwise,
   * `plainName` set), its place in `nameStart` and `nameEnd` either way.
   */
  private string(wanted: boolean | typeof NAME = false): string {
    const bytes = this.bytes;
    const n = bytes.length;
    const max = this.limits.maxStringLength;
    const start = this.i + 1;
    let i = start;
    let out = '';
    let runStart = i;
    let escaped = false;
    let length = 0;
    let pendingHigh = false;
    for (;;) {
      // a run of bytes that need no look of their own (not a quote, a backslash or a control
      // character: in a 500-packet sync body nearly every byte), counted in UTF-16 units as
      // `maxStringLength` is: a continuation byte (10xxxxxx) adds none, the lead of a 4-byte
      // sequence (11110xxx) two, a surrogate pair
      let end = i;
      let units = 0;
      while (end < n) {
        const c = bytes[end];
        if (c === 0x22 || c === 0x5c || c < 0x20) break;
        if (c >= 0x80) units += c < 0xc0 ? -1 : c >= 0xf0 ? 1 : 0;
        end++;
      }
      if (end > i) {
        // raw bytes are valid UTF-8, so they hold no lone surrogates themselves
        if (pendingHigh) throw loneSurrogate();
        length += end - i + units;
        if (length > max) throw tooLong(max);
        i = end;
      }
      if (i >= n) throw invalidJson();
      const code = bytes[i];
      if (code === 0x22) break;
      if (code < 0x20) throw invalidJson();
      // a backslash: the run stops only at a quote, a control character or an escape
      escaped = true;
      if (wanted) out += bytes.toString('utf8', runStart, i);
      const esc = bytes[i + 1];
      let unit: number;
      if (esc === 0x75) {
        unit = hex4(bytes, i + 2);
        if (unit < 0) throw invalidJson();
        i += 6;
      } else {
        const simple = esc === undefined ? undefined : SIMPLE_ESCAPES[esc];
        if (simple === undefined) throw invalidJson();
        unit = simple;
        i += 2;
      }
      pendingHigh = surrogate(unit, pendingHigh);
      if (wanted) out += String.fromCharCode(unit);
      runStart = i;
      if (++length > max) throw tooLong(max);
    }
    if (pendingHigh) throw loneSurrogate();
    this.i = i + 1;
    if (!wanted) return '';
    if (wanted === NAME) {
      this.nameStart = start;
      this.nameEnd = i;
      this.plainName = !escaped;
      if (!escaped) return '';
    }
    return escaped ? out + bytes.toString('utf8', runStart, i) : bytes.toString('utf8', start, i);
  }

  /**
   * A number token (`-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?`, the longest match at the
   * place), refused when it does not fit a double.
   */
  private number(): void {
    const bytes = this.bytes;
    const at = this.i;
    let j = at;
    if (bytes[j] === 0x2d) j++;
    if (bytes[j] === 0x30) j++;
    else if (bytes[j] >= 0x31 && bytes[j] <= 0x39) {
      j++;
      while (isDigit(bytes[j])) j++;
    } else throw invalidJson();
    if (bytes[j] === 0x2e && isDigit(bytes[j + 1])) {
      j += 2;
      while (isDigit(bytes[j])) j++;
    }
    let exponent = false;
    if (bytes[j] === 0x65 || bytes[j] === 0x45) {
      let k = j + 1;
      if (bytes[k] === 0x2b || bytes[k] === 0x2d) k++;
      if (isDigit(bytes[k])) {
        while (isDigit(bytes[k])) k++;
        j = k;
        exponent = true;
      }
    }
    const length = j - at;
    // only an exponent or hundreds of digits can leave a double's range
    const mayOverflow = length > 300 || exponent;
    if (
      length >= 400 ||
      (mayOverflow && !Number.isFinite(Number(bytes.toString('latin1', at, j))))
    ) {
      throw new BodyPipelineError(
        'json_number_out_of_range',
        'A number in the JSON body does not fit a 64-bit float (I-JSON)',
      );
    }
    this.i = j;
  }

  private skipWs(): void {
    const bytes = this.bytes;
    let i = this.i;
    for (;;) {
      const c = bytes[i];
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      i++;
    }
    this.i = i;
  }
}

/** `JsonScanner.string`'s mode for a member name. */
const NAME = 2;

/** Member names no request of this API has (JSON.parse would make them plain members). */
const RESERVED_NAMES = ['__proto__', 'constructor', 'prototype'];

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

/** Tracks an escaped UTF-16 unit: a high surrogate must be followed by a low one. */
function surrogate(unit: number, pendingHigh: boolean): boolean {
  const high = unit >= 0xd800 && unit <= 0xdbff;
  const low = unit >= 0xdc00 && unit <= 0xdfff;
  if (pendingHigh && !low) throw loneSurrogate();
  if (!pendingHigh && low) throw loneSurrogate();
  return high;
}

function tooLong(max: number): BodyPipelineError {
  return new BodyPipelineError(
    'json_string_too_long',
    `A string in the JSON body is longer than ${max} characters`,
  );
}

/** Object members compared in a list up to this many, in a Set beyond. */
const SMALL = 16;

/** The value of 4 hex digits at `at`, or -1. */
function hex4(bytes: Buffer, at: number): number {
  let unit = 0;
  for (let k = at; k < at + 4; k++) {
    const c = bytes[k];
    const digit =
      c >= 0x30 && c <= 0x39
        ? c - 0x30
        : c >= 0x61 && c <= 0x66
          ? c - 0x57
          : c >= 0x41 && c <= 0x46
            ? c - 0x37
            : -1;
    if (digit < 0) return -1;
    unit = unit * 16 + digit;
  }
  return unit;
}

/** The unit each one-letter escape stands for, by the byte after the backslash. */
const SIMPLE_ESCAPES: (number | undefined)[] = [];
for (const [c, unit] of Object.entries({
  '"': 0x22,
  '\\': 0x5c,
  '/': 0x2f,
  b: 0x08,
  f: 0x0c,
  n: 0x0a,
  r: 0x0d,
  t: 0x09,
}))
  SIMPLE_ESCAPES[c.charCodeAt(0)] = unit;

function invalidJson(): BodyPipelineError {
  return new BodyPipelineError('invalid_json', 'The request body is not valid JSON');
}

/** Valid JSON that is not an object, where a request body must be one. */
export function notAnObject(): BodyPipelineError {
  return new BodyPipelineError('invalid_json', 'The request body must be a JSON object');
}

function loneSurrogate(): BodyPipelineError {
  return new BodyPipelineError(
    'json_lone_surrogate',
    'A string in the JSON body holds a lone UTF-16 surrogate (I-JSON)',
  );
}
