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
 * `limits`: one linear pass over the text checks nesting depth, member count, string length,
 * duplicate member names, lone surrogates and numbers that do not fit a double, and only then
 * does JSON.parse build the value. Each refusal is a 400 with its own code, so no later stage
 * (a guard hashing the body, the ValidationPipe walking it) sees a hostile shape. The top level
 * must be an object or an array (as body-parser's `strict`); a valid scalar is refused as such
 * (400 `invalid_json`, "must be a JSON object"), not as text that does not parse.
 */
export function parseJsonBody(text: string, limits: JsonLimits): unknown {
  const scanner = new JsonScanner(text, limits);
  scanner.scan();
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    throw invalidJson();
  }
  // the top-level object's arrays, each with its items' places in the text (JSON.parse gives
  // the members the scanner saw: I-JSON has no repeated names)
  for (const [name, places] of scanner.itemPlaces ?? []) {
    const array = (value as Record<string, unknown>)[name];
    if (Array.isArray(array) && array.length === places.length >> 1) {
      ITEM_TEXTS.set(array, { text, places });
    }
  }
  return value;
}

/**
 * Bodies of at least this many bytes go through `parseAsciiJsonBody` when they are ASCII: a
 * string of more than ~128 KiB is one of V8's large objects, each a fresh mapping of its own,
 * whose pages this machine faults in at ~20 µs each (a 500-packet sync body's text: ~45 faults,
 * ~1 ms of the event loop), where one of 64 KiB costs ~5 µs.
 */
export const ASCII_BODY_MIN_BYTES = 64 << 10;

/** The most bytes of items `parseAsciiJsonBody` parses in one JSON.parse (see there). */
const ASCII_PIECE_BYTES = 60 << 10;

/**
 * `parseJsonBody` of a body whose bytes are all ASCII (`buffer.isAscii`: valid UTF-8, no BOM,
 * each byte one UTF-16 unit of the text), without making the body's text as one string: the
 * same linear pass (`AsciiJsonScanner`, the same checks in the same order, over the bytes), then
 * JSON.parse of each member of the top-level object on its own, a top-level array member's items
 * `pieceBytes` of text at a time (`JSON.parse('[' + items + ']')` gives those items, equal to
 * the whole parse's: the same text, parsed the same way; I-JSON has no repeated names, so the
 * members are the ones JSON.parse would set). The answer, its refusals and `bodyItemsText` of
 * its arrays are `parseJsonBody`'s for the same text. A top level that is an array (which the
 * body pipeline refuses) is parsed whole.
 */
export function parseAsciiJsonBody(
  bytes: Buffer,
  limits: JsonLimits,
  pieceBytes = ASCII_PIECE_BYTES,
): unknown {
  const scanner = new AsciiJsonScanner(bytes, limits);
  scanner.scan();
  const members = scanner.members;
  if (members === undefined) return JSON.parse(bytes.toString('latin1')) as unknown;
  const value: Record<string, unknown> = {};
  for (const member of members) {
    const places = member.places;
    if (places === undefined) {
      value[member.name] = JSON.parse(bytes.toString('latin1', member.start, member.end));
      continue;
    }
    const items: unknown[] = [];
    const count = places.length >> 1;
    for (let from = 0; from < count;) {
      let to = from + 1;
      while (to < count && places[to * 2 + 1] - places[from * 2] <= pieceBytes) to++;
      const text = bytes.toString('latin1', places[from * 2], places[(to - 1) * 2 + 1]);
      for (const item of JSON.parse(`[${text}]`) as unknown[]) items.push(item);
      from = to;
    }
    value[member.name] = items;
    ITEM_TEXTS.set(items, { bytes, places });
  }
  return value;
}

/**
 * The arrays `parseJsonBody` (or `parseAsciiJsonBody`) returned as members of a top-level
 * object, each with the places of its items in the body's text (or its ASCII bytes): [start,
 * end) of item i at 2i, 2i + 1. The body lives as long as the array does (a request's body: the
 * request), not only through the parse.
 */
const ITEM_TEXTS = new WeakMap<
  unknown[],
  { text: string; bytes?: undefined; places: number[] } | { bytes: Buffer; places: number[] }
>();

/**
 * The text of `array[from]` … `array[to - 1]` as the request body held it, separated by their
 * commas, without brackets: `JSON.parse('[' + text + ']')` gives those items again, equal to
 * the parsed ones (the same text, parsed the same way). Only for an array `parseJsonBody` made
 * as a member of a top-level object (a request body's `packets`), still of the length it was
 * parsed with; undefined for any other array or an empty range. A substring of the body's text:
 * a thread it is posted to gets the text, not a structured clone of the items (the packet
 * checks: a fraction of the main thread's cost for 250 packets).
 */
export function bodyItemsText(array: unknown[], from: number, to: number): string | undefined {
  const known = ITEM_TEXTS.get(array);
  if (!known || known.places.length !== array.length * 2) return undefined;
  if (!(from >= 0 && from < to && to <= array.length)) return undefined;
  const [start, end] = [known.places[from * 2], known.places[(to - 1) * 2 + 1]];
  return known.bytes ? known.bytes.toString('latin1', start, end) : known.text.slice(start, end);
}

class JsonScanner {
  private i = 0;
  private keys = 0;
  /** The top-level object's array members: their items' [start, end) places, flat. */
  itemPlaces?: Map<string, number[]>;

  constructor(
    private readonly text: string,
    private readonly limits: JsonLimits,
  ) {}

  scan(): void {
    this.skipWs();
    const first = this.text[this.i];
    this.value(1);
    this.skipWs();
    if (this.i !== this.text.length) throw invalidJson();
    // valid JSON, but a scalar: no body of this API is one (the body pipeline refuses arrays)
    if (first !== '{' && first !== '[') throw notAnObject();
  }

  // recursion is bounded by maxDepth, checked before descending
  private value(depth: number): void {
    this.skipWs();
    const c = this.text.charCodeAt(this.i);
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
    else if (this.text.startsWith('true', this.i)) this.i += 4;
    else if (this.text.startsWith('false', this.i)) this.i += 5;
    else if (this.text.startsWith('null', this.i)) this.i += 4;
    else throw invalidJson();
  }

  private object(depth: number): void {
    this.i++;
    // most objects hold a few members: their names are compared in a list, a Set past SMALL
    const names: string[] = [];
    let many: Set<string> | undefined;
    this.skipWs();
    if (this.text.charCodeAt(this.i) === 0x7d) {
      this.i++;
      return;
    }
    for (;;) {
      this.skipWs();
      if (this.text.charCodeAt(this.i) !== 0x22) throw invalidJson();
      const name = this.string(true);
      if (many ? many.has(name) : names.includes(name)) {
        throw new BodyPipelineError(
          'json_duplicate_key',
          'The JSON body repeats a member name in one object (I-JSON forbids it)',
        );
      }
      if (name === '__proto__' || name === 'constructor' || name === 'prototype') {
        // JSON.parse makes them plain members, which the DTOs' transform then drops unseen
        throw new BodyPipelineError(
          'json_reserved_key',
          `The JSON body has a member named "${name}", which no request of this API has`,
        );
      }
      if (many) many.add(name);
      else if (names.push(name) > SMALL) many = new Set(names);
      if (++this.keys > this.limits.maxKeys) {
        throw new BodyPipelineError(
          'json_too_many_keys',
          `The JSON body holds more than ${this.limits.maxKeys} object members`,
        );
      }
      this.skipWs();
      if (this.text.charCodeAt(this.i++) !== 0x3a) throw invalidJson();
      this.skipWs();
      if (depth === 1 && this.text.charCodeAt(this.i) === 0x5b) {
        // an array member of the top-level object: its items' places are kept (bodyItemsText)
        const places: number[] = [];
        (this.itemPlaces ??= new Map()).set(name, places);
        if (depth + 1 > this.limits.maxDepth) this.value(depth + 1);
        else this.array(depth + 1, places);
      } else this.value(depth + 1);
      this.skipWs();
      const next = this.text.charCodeAt(this.i++);
      if (next === 0x7d) return;
      if (next !== 0x2c) throw invalidJson();
    }
  }

  /** `places`: each item's [start, end) in the text is pushed to it. */
  private array(depth: number, places?: number[]): void {
    this.i++;
    this.skipWs();
    if (this.text.charCodeAt(this.i) === 0x5d) {
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
      const next = this.text.charCodeAt(this.i++);
      if (next === 0x5d) return;
      if (next !== 0x2c) throw invalidJson();
    }
  }

  /**
   * Reads a string token; returns its value when `wanted` (member names, for the duplicate
   * check), else '' (values are only checked, not built).
   */
  private string(wanted = false): string {
    const text = this.text;
    const max = this.limits.maxStringLength;
    const start = this.i + 1;
    let i = start;
    let out = '';
    let runStart = i;
    let escaped = false;
    let length = 0;
    let pendingHigh = false;
    for (;;) {
      // a run of characters that need no look of their own, in one native regexp step: in a
      // 500-packet sync body that is nearly every character
      PLAIN_RUN.lastIndex = i;
      PLAIN_RUN.test(text);
      const end = PLAIN_RUN.lastIndex;
      if (end > i) {
        // raw text arrived as UTF-8 decoded strictly, so it holds no lone surrogates itself
        if (pendingHigh) throw loneSurrogate();
        length += end - i;
        if (length > max) throw this.tooLong();
        i = end;
      }
      if (i >= text.length) throw invalidJson();
      const code = text.charCodeAt(i);
      if (code === 0x22) break;
      if (code < 0x20) throw invalidJson();
      // a backslash: the run stops only at a quote, a control character or an escape
      escaped = true;
      if (wanted) out += text.slice(runStart, i);
      const esc = text[i + 1];
      let unit: number;
      if (esc === 'u') {
        unit = hex4(text, i + 2);
        if (unit < 0) throw invalidJson();
        i += 6;
      } else {
        const simple = SIMPLE_ESCAPES[esc];
        if (simple === undefined) throw invalidJson();
        unit = simple;
        i += 2;
      }
      pendingHigh = this.surrogate(unit, pendingHigh);
      if (wanted) out += String.fromCharCode(unit);
      runStart = i;
      if (++length > max) throw this.tooLong();
    }
    if (pendingHigh) throw loneSurrogate();
    this.i = i + 1;
    if (!wanted) return '';
    return escaped ? out + text.slice(runStart, i) : text.slice(start, i);
  }

  private tooLong(): BodyPipelineError {
    return new BodyPipelineError(
      'json_string_too_long',
      `A string in the JSON body is longer than ${this.limits.maxStringLength} characters`,
    );
  }

  /** Tracks an escaped UTF-16 unit: a high surrogate must be followed by a low one. */
  private surrogate(unit: number, pendingHigh: boolean): boolean {
    const high = unit >= 0xd800 && unit <= 0xdbff;
    const low = unit >= 0xdc00 && unit <= 0xdfff;
    if (pendingHigh && !low) throw loneSurrogate();
    if (!pendingHigh && low) throw loneSurrogate();
    return high;
  }

  private number(): void {
    NUMBER.lastIndex = this.i;
    const match = NUMBER.exec(this.text);
    if (!match) throw invalidJson();
    const token = match[0];
    // only an exponent or hundreds of digits can leave a double's range
    const mayOverflow = token.length > 300 || /[eE]/.test(token);
    if (token.length >= 400 || (mayOverflow && !Number.isFinite(Number(token)))) {
      throw new BodyPipelineError(
        'json_number_out_of_range',
        'A number in the JSON body does not fit a 64-bit float (I-JSON)',
      );
    }
    this.i += token.length;
  }

  private skipWs(): void {
    const text = this.text;
    let i = this.i;
    for (;;) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      i++;
    }
    this.i = i;
  }
}

/**
 * `JsonScanner` over the bytes of an ASCII body (each byte the UTF-16 unit of the text at the
 * same index): the same checks in the same order, with the same refusals. It also keeps the
 * top-level object's members (`members`: name, the value's [start, end), an array member's items'
 * places) for `parseAsciiJsonBody`; undefined when the top level is an array.
 */
class AsciiJsonScanner {
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
    if (first !== 0x7b && first !== 0x5b) throw notAnObject();
  }

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
    // made for it: a 500-packet body has ~7,000 names); an escaped one, its value. Past SMALL
    // names, every name's value in a Set
    const starts: number[] = [];
    const ends: number[] = [];
    const values: (string | undefined)[] = [];
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
      const [start, end] = [this.nameStart, this.nameEnd];
      if (this.plainName) name = undefined;
      let repeated = false;
      if (many) repeated = many.has((name ??= bytes.toString('latin1', start, end)));
      else {
        for (let k = 0; k < starts.length && !repeated; k++)
          repeated = this.sameName(starts[k], ends[k], values[k], start, end, name);
      }
      if (repeated) {
        throw new BodyPipelineError(
          'json_duplicate_key',
          'The JSON body repeats a member name in one object (I-JSON forbids it)',
        );
      }
      if (name !== undefined ? RESERVED_NAMES.includes(name) : this.reservedAt(start, end)) {
        throw new BodyPipelineError(
          'json_reserved_key',
          `The JSON body has a member named "${name ?? bytes.toString('latin1', start, end)}", which no request of this API has`,
        );
      }
      if (many) many.add(name!);
      else if (starts.push(start) > SMALL) {
        ends.push(end);
        values.push(name);
        many = new Set(values.map((v, k) => v ?? bytes.toString('latin1', starts[k], ends[k])));
      } else {
        ends.push(end);
        values.push(name);
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
        const member: { name: string; start: number; end: number; places?: number[] } = {
          name: name ?? bytes.toString('latin1', start, end),
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
      if (next === 0x7d) return;
      if (next !== 0x2c) throw invalidJson();
    }
  }

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
      (aValue ?? bytes.toString('latin1', aStart, aEnd)) ===
      (bValue ?? bytes.toString('latin1', bStart, bEnd))
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

  /** Where the last member name read (`string(NAME)`) is, and whether it had no escape. */
  private nameStart = 0;
  private nameEnd = 0;
  private plainName = false;

  /**
   * `JsonScanner.string` over the bytes. `wanted`: true for the value; NAME for a member name,
   * its value only when it holds an escape ('' otherwise, `plainName` set), its place in
   * `nameStart` and `nameEnd` either way.
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
      // a run of bytes that need no look of their own (ASCII: not a quote, a backslash or a
      // control character)
      let end = i;
      while (end < n) {
        const c = bytes[end];
        if (c === 0x22 || c === 0x5c || c < 0x20) break;
        end++;
      }
      if (end > i) {
        if (pendingHigh) throw loneSurrogate();
        length += end - i;
        if (length > max) throw tooLong(max);
        i = end;
      }
      if (i >= n) throw invalidJson();
      const code = bytes[i];
      if (code === 0x22) break;
      if (code < 0x20) throw invalidJson();
      escaped = true;
      if (wanted) out += bytes.toString('latin1', runStart, i);
      const esc = bytes[i + 1];
      let unit: number;
      if (esc === 0x75) {
        unit = hex4Bytes(bytes, i + 2);
        if (unit < 0) throw invalidJson();
        i += 6;
      } else {
        const simple = esc === undefined ? undefined : SIMPLE_ESCAPES[String.fromCharCode(esc)];
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
      [this.nameStart, this.nameEnd, this.plainName] = [start, i, !escaped];
      if (!escaped) return '';
    }
    return escaped
      ? out + bytes.toString('latin1', runStart, i)
      : bytes.toString('latin1', start, i);
  }

  /** `NUMBER` (the longest match at the place) and `JsonScanner.number`'s range check. */
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

/** `AsciiJsonScanner.string`'s mode for a member name. */
const NAME = 2;

/** Member names no request of this API has (JSON.parse would make them plain members). */
const RESERVED_NAMES = ['__proto__', 'constructor', 'prototype'];

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

/** `hex4` over bytes. */
function hex4Bytes(bytes: Buffer, at: number): number {
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

/** Characters a string token holds as they are: not a quote, a backslash or a control character. */
// eslint-disable-next-line no-control-regex -- the control characters are what it stops at
const PLAIN_RUN = /[^"\\\u0000-\u001f]*/y;

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Object members compared in a list up to this many, in a Set beyond. */
const SMALL = 16;

/** The value of 4 hex digits at `at`, or -1. */
function hex4(text: string, at: number): number {
  let unit = 0;
  for (let k = at; k < at + 4; k++) {
    const c = text.charCodeAt(k);
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

const SIMPLE_ESCAPES: Record<string, number | undefined> = {
  '"': 0x22,
  '\\': 0x5c,
  '/': 0x2f,
  b: 0x08,
  f: 0x0c,
  n: 0x0a,
  r: 0x0d,
  t: 0x09,
};

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
