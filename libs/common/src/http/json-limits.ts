import { CommonError } from '../errors/common.errors';

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
 * must be an object or an array (as body-parser's `strict`).
 */
export function parseJsonBody(text: string, limits: JsonLimits): unknown {
  new JsonScanner(text, limits).scan();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalidJson();
  }
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

class JsonScanner {
  private i = 0;
  private keys = 0;

  constructor(
    private readonly text: string,
    private readonly limits: JsonLimits,
  ) {}

  scan(): void {
    this.skipWs();
    const first = this.text[this.i];
    if (first !== '{' && first !== '[') throw invalidJson();
    this.value(1);
    this.skipWs();
    if (this.i !== this.text.length) throw invalidJson();
  }

  // recursion is bounded by maxDepth, checked before descending
  private value(depth: number): void {
    this.skipWs();
    const c = this.text[this.i];
    if (c === '{' || c === '[') {
      if (depth > this.limits.maxDepth) {
        throw new CommonError(
          'json_too_deep',
          `The JSON body nests deeper than ${this.limits.maxDepth} levels`,
        );
      }
      if (c === '{') this.object(depth);
      else this.array(depth);
    } else if (c === '"') this.string();
    else if (c === '-' || (c >= '0' && c <= '9')) this.number();
    else if (this.text.startsWith('true', this.i)) this.i += 4;
    else if (this.text.startsWith('false', this.i)) this.i += 5;
    else if (this.text.startsWith('null', this.i)) this.i += 4;
    else throw invalidJson();
  }

  private object(depth: number): void {
    this.i++;
    const names = new Set<string>();
    this.skipWs();
    if (this.text[this.i] === '}') {
      this.i++;
      return;
    }
    for (;;) {
      this.skipWs();
      if (this.text[this.i] !== '"') throw invalidJson();
      const name = this.string();
      if (names.has(name)) {
        throw new CommonError(
          'json_duplicate_key',
          'The JSON body repeats a member name in one object (I-JSON forbids it)',
        );
      }
      names.add(name);
      if (++this.keys > this.limits.maxKeys) {
        throw new CommonError(
          'json_too_many_keys',
          `The JSON body holds more than ${this.limits.maxKeys} object members`,
        );
      }
      this.skipWs();
      if (this.text[this.i++] !== ':') throw invalidJson();
      this.value(depth + 1);
      this.skipWs();
      const next = this.text[this.i++];
      if (next === '}') return;
      if (next !== ',') throw invalidJson();
    }
  }

  private array(depth: number): void {
    this.i++;
    this.skipWs();
    if (this.text[this.i] === ']') {
      this.i++;
      return;
    }
    for (;;) {
      this.value(depth + 1);
      this.skipWs();
      const next = this.text[this.i++];
      if (next === ']') return;
      if (next !== ',') throw invalidJson();
    }
  }

  /** Reads a string token and returns its value (needed for duplicate-name checks). */
  private string(): string {
    const text = this.text;
    let i = this.i + 1;
    let out = '';
    let runStart = i;
    let length = 0;
    let pendingHigh = false;
    for (;;) {
      if (i >= text.length) throw invalidJson();
      const code = text.charCodeAt(i);
      if (code === 0x22) break;
      if (code < 0x20) throw invalidJson();
      if (code === 0x5c) {
        out += text.slice(runStart, i);
        const esc = text[i + 1];
        let unit: number;
        if (esc === 'u') {
          const hex = text.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw invalidJson();
          unit = parseInt(hex, 16);
          i += 6;
        } else {
          const simple = SIMPLE_ESCAPES[esc];
          if (simple === undefined) throw invalidJson();
          unit = simple;
          i += 2;
        }
        pendingHigh = this.surrogate(unit, pendingHigh);
        out += String.fromCharCode(unit);
        runStart = i;
      } else {
        // raw text arrived as UTF-8 decoded strictly, so it holds no lone surrogates itself
        if (pendingHigh) throw loneSurrogate();
        i++;
      }
      if (++length > this.limits.maxStringLength) {
        throw new CommonError(
          'json_string_too_long',
          `A string in the JSON body is longer than ${this.limits.maxStringLength} characters`,
        );
      }
    }
    if (pendingHigh) throw loneSurrogate();
    out += text.slice(runStart, i);
    this.i = i + 1;
    return out;
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
    const match = NUMBER.exec(this.text.slice(this.i, this.i + 400));
    if (!match) throw invalidJson();
    const token = match[0];
    if (token.length >= 400 || !Number.isFinite(Number(token))) {
      throw new CommonError(
        'json_number_out_of_range',
        'A number in the JSON body does not fit a 64-bit float (I-JSON)',
      );
    }
    this.i += token.length;
  }

  private skipWs(): void {
    while (this.i < this.text.length && WS.has(this.text.charCodeAt(this.i))) this.i++;
  }
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/;

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

function invalidJson(): CommonError {
  return new CommonError('invalid_json', 'The request body is not valid JSON');
}

function loneSurrogate(): CommonError {
  return new CommonError(
    'json_lone_surrogate',
    'A string in the JSON body holds a lone UTF-16 surrogate (I-JSON)',
  );
}
