import type { Response } from 'express';
import { hash } from 'node:crypto';

/** Free answer buffers kept for the next answer, at most this many… */
const FREE_BUFFERS = 4;
/** …of at most this many bytes each (a larger answer gets a buffer of its own, then dropped). */
const MAX_POOLED_BYTES = 1 << 20;
const FIRST_BYTES = 64 << 10;

const free: Buffer[] = [];

/**
 * Writes `value` as the JSON answer `res.json(value)` gives (same status, `Content-Type:
 * application/json; charset=utf-8`, Content-Length and, for a GET or HEAD, express's ETag of the
 * bytes sent: no other method's answer can be conditional, so it has none) in
 * ASCII: the same JSON value, with each character outside ASCII as a `\uXXXX` escape. A client
 * decodes an ASCII answer into a one-byte string; the checkpoint note's "—" alone made a sync
 * answer's whole text two-byte, ~1 ms more per 500 receipts on the client. For answers of hundreds of KiB (a sync batch's receipts): `res.json` builds one string of the
 * whole answer (a large-object allocation) and then a fresh Buffer of it, and on this machine
 * each fresh large allocation costs more than the encoding itself. Here the answer is encoded
 * straight into a reused buffer, one member (and one array item) at a time, each with
 * `JSON.stringify`, so the escaping is JSON.stringify's own (plus the `\u` escapes); the buffer goes back to a small
 * pool once the response has finished writing (never while the socket may still read it).
 * Falls back to `res.json` when the app has a JSON replacer, spaces or escape setting, or the
 * value is not a plain object.
 */
export function sendJson(res: Response, status: number, value: unknown): void {
  const app = res.app;
  if (
    !isPlainObject(value) ||
    app.get('json replacer') !== undefined ||
    app.get('json spaces') !== undefined ||
    app.get('json escape')
  ) {
    res.status(status).json(value);
    return;
  }
  const out = new JsonOut();
  encodeObject(out, value);
  const bytes = out.bytes();
  const buffer = out.buffer;
  res.status(status);
  // the header res.json sets, with the charset res.send adds to a string body
  res.set('Content-Type', 'application/json; charset=utf-8');
  if (buffer.length <= MAX_POOLED_BYTES) {
    res.once('finish', () => {
      if (free.length < FREE_BUFFERS) free.push(buffer);
    });
  }
  const method = res.req.method;
  // a bodiless status (204, 205, 304) goes through res.send, which drops the body and its headers
  if (method !== 'GET' && method !== 'HEAD' && status !== 204 && status !== 205 && status !== 304) {
    // no ETag: only a GET or HEAD can be conditional (express's `req.fresh` is false for any
    // other method, so no 304), and no cache keeps a POST's answer by it. res.send hashed every
    // answer's bytes for it: ~0.35 ms of SHA-1 on the main thread for a 500-packet sync's
    // ~520 KB (docs/benchmarks.md, syncoff)
    res.setHeader('Content-Length', String(bytes.length));
    res.end(bytes);
    return;
  }
  res.send(bytes);
}

/** `JSON.stringify(value)` of a plain object in ASCII (`escapeNonAscii`), as bytes (exported for tests). */
export function encodeJson(value: Record<string, unknown>): Buffer {
  const out = new JsonOut();
  encodeObject(out, value);
  // a copy: the caller keeps it, so the pooled buffer goes back at once
  const copy = Buffer.from(out.bytes());
  if (out.buffer.length <= MAX_POOLED_BYTES && free.length < FREE_BUFFERS) free.push(out.buffer);
  return copy;
}

/** Items of a top-level array encoded in one JSON.stringify (see `encodeObject`). */
const ITEMS_PER_TEXT = 32;

/**
 * The top level member by member and its arrays ITEMS_PER_TEXT items at a time; anything
 * deeper as JSON.stringify writes it (an item's `toJSON`, if any, is called with its index
 * among those ITEMS_PER_TEXT rather than in the whole array).
 */
function encodeObject(out: JsonOut, value: Record<string, unknown>): void {
  out.write('{');
  let first = true;
  for (const key of Object.keys(value)) {
    const member = value[key];
    if (Array.isArray(member) && !hasToJson(member)) {
      out.write(`${first ? '' : ','}${JSON.stringify(key)}:`);
      first = false;
      if (member.length === 0) out.write('[]');
      for (let i = 0; i < member.length; i += ITEMS_PER_TEXT) {
        // ITEMS_PER_TEXT items in one JSON.stringify: each call and each write has a fixed cost
        // (~2 µs for a receipt's result), twice the encoding of its ~1 KiB (500 receipts: ~2 ms
        // one by one, ~1 ms this way), and the text stays far below V8's large-object size. An
        // item JSON.stringify cannot write (undefined, a function) is null in an array, here as
        // there. Each text is written whole, brackets and all (its `slice(1, -1)` was a copy of
        // the whole answer, ~0.5 MB a sync batch): the first one's `[` opens the array, each
        // later one is written over the `]` before it and its `[` made the comma between, and
        // the last one's `]` closes the array
        const items = JSON.stringify(member.slice(i, i + ITEMS_PER_TEXT));
        if (i > 0) out.back(1);
        const at = out.length;
        out.write(items);
        if (i > 0) out.buffer[at] = 0x2c;
      }
      continue;
    }
    const text = JSON.stringify(member) as string | undefined;
    // a member JSON.stringify cannot write is left out, as JSON.stringify does
    if (text === undefined) continue;
    out.write(`${first ? '' : ','}${JSON.stringify(key)}:${text}`);
    first = false;
  }
  out.write('}');
}

class JsonOut {
  buffer: Buffer = free.pop() ?? Buffer.allocUnsafeSlow(FIRST_BYTES);
  private at = 0;

  write(text: string): void {
    // at most 3 UTF-8 bytes per UTF-16 unit (a surrogate pair is 4 bytes for 2 units); near the
    // buffer's end the exact count, so a text of 32 items (~31 KiB) does not double a buffer its
    // bytes fit in (an answer just under the pool's bound would outgrow it)
    if (this.at + text.length * 3 > this.buffer.length) {
      const bytes = Buffer.byteLength(text, 'utf8');
      if (this.at + bytes > this.buffer.length) this.grow(bytes);
    }
    const written = this.buffer.write(text, this.at, 'utf8');
    // as many bytes as units: ASCII only (any other character takes more bytes than units)
    if (written === text.length) {
      this.at += written;
      return;
    }
    // written again over the same place with its other characters as \u escapes
    const ascii = escapeNonAscii(text);
    if (this.at + ascii.length > this.buffer.length) this.grow(ascii.length);
    this.at += this.buffer.write(ascii, this.at, 'latin1');
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.at);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.at;
  }

  /** Drops the last `count` bytes written (the next write goes where they were). */
  back(count: number): void {
    this.at -= count;
  }

  private grow(room: number): void {
    let size = this.buffer.length * 2;
    while (size < this.at + room) size *= 2;
    const bigger = Buffer.allocUnsafeSlow(size);
    this.buffer.copy(bigger, 0, 0, this.at);
    // the smaller one is dropped: the pool keeps the buffers that held whole answers, so
    // after the first answers of a size none grows again
    this.buffer = bigger;
  }
}

/**
 * `text` (JSON) with every character outside ASCII written as a `\uXXXX` escape (a surrogate
 * pair as two): the same JSON value. Outside strings JSON has only ASCII, so the whole text can
 * be rewritten. Exported for tests.
 */
export function escapeNonAscii(text: string): string {
  return text.replace(NON_ASCII, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const NON_ASCII = /[\u0080-\uffff]/g;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return (proto === Object.prototype || proto === null) && !hasToJson(value);
}

function hasToJson(value: object): boolean {
  return typeof (value as { toJSON?: unknown }).toJSON === 'function';
}

/**
 * Writes `body` as `res.json(body)` writes it, without express's generic steps, and answers
 * true; or writes nothing and answers false when the case is one this does not reproduce
 * (the caller then uses `res.json`).
 *
 * `res.json` sets `Content-Type: application/json` (which `res.set` makes
 * `application/json; charset=utf-8` through mime-types), then `res.send` parses that type again
 * to set the charset it already has, converts the string to a Buffer, sets `Content-Length` and
 * the ETag from the app's `etag fn`, asks `req.fresh`, and ends. Here the same headers are set in
 * the same order with the same names and values (`String()` of each, as `res.set` does) and the
 * ETag comes from the very same `etag fn`; only the cases where all of that is fixed are taken:
 * no Content-Type or ETag set yet, no JSON replacer, spaces or escape setting, an ETag function
 * set, a GET or POST… but not HEAD, no `If-None-Match` / `If-Modified-Since` (so `req.fresh` is
 * false and no 304 is possible), and a status other than 204, 205 and 304.
 * `weakEtag`: the app's `etag fn` as express made it for its default `etag: 'weak'`; when the app
 * still has that one, the tag is computed here the same way (the `etag` package's weak tag: the
 * length in hex and the first 27 base64 characters of the body's SHA-1) with one `crypto.hash`
 * call instead of a Hash object per answer.
 * `json-reply.adapter.spec.ts` compares the bytes on the wire with `res.json`'s.
 */
export function replyJson(res: Response, body: object, weakEtag?: unknown): boolean {
  const req = res.req;
  const status = res.statusCode;
  if (
    req.method === 'HEAD' ||
    req.headers['if-none-match'] !== undefined ||
    req.headers['if-modified-since'] !== undefined ||
    status === 204 ||
    status === 205 ||
    status === 304 ||
    res.getHeader('Content-Type') !== undefined ||
    res.getHeader('ETag') !== undefined
  ) {
    return false;
  }
  const app = res.app;
  const etagOf = app.get('etag fn') as unknown;
  if (
    typeof etagOf !== 'function' ||
    app.get('json escape') ||
    app.get('json replacer') ||
    app.get('json spaces')
  ) {
    return false;
  }
  const json = JSON.stringify(body) as string | undefined;
  if (typeof json !== 'string') return false;
  const chunk = Buffer.from(json, 'utf8');
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', String(chunk.length));
  // express's etag functions answer a string (or nothing); res.set writes String() of it
  const etag =
    etagOf === weakEtag && chunk.length > 0
      ? weakEtagOf(chunk)
      : (etagOf as (body: Buffer, encoding: undefined) => string | undefined)(chunk, undefined);
  if (etag) res.setHeader('ETag', String(etag));
  res.end(chunk);
  return true;
}

/** The `etag` package's weak tag of a non-empty body (what express's default `etag fn` answers). */
function weakEtagOf(body: Buffer): string {
  return `W/"${body.length.toString(16)}-${hash('sha1', body, 'base64').substring(0, 27)}"`;
}
